use tch::{nn, nn::Module, Device, Kind, Tensor};
fn h(t: &Tensor) -> u64 {
    let v: Vec<f32> = Vec::try_from(t.contiguous().flatten(0, -1)).unwrap();
    let mut x = 1469598103934665603u64;
    for f in v {
        x = (x ^ f.to_bits() as u64).wrapping_mul(1099511628211);
    }
    x
}
fn main() {
    tch::manual_seed(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root();
    let x = Tensor::randn([1, 192, 32, 48], (Kind::Float, Device::Cpu));
    let x128 = Tensor::randn([1, 128, 64, 96], (Kind::Float, Device::Cpu));
    let d1 = lic::nn::deconv(&p / "d1", 192, 128, 5, 2);
    let d2 = lic::nn::deconv(&p / "d2", 128, 3, 5, 2);
    let c1 = lic::nn::conv(&p / "c1", 128, 128, 5, 2);
    let c3 = lic::nn::conv(&p / "c3", 128, 128, 3, 1);
    let g = lic::nn::Gdn::new(&p / "g", 128, true);
    let c11 = lic::nn::conv(&p / "c11", 128, 128, 1, 1);
    let d3 = lic::nn::deconv(&p / "d3", 128, 128, 5, 2);
    let x2 = Tensor::randn([1, 128, 128, 192], (Kind::Float, Device::Cpu));
    let x3 = Tensor::randn([1, 128, 256, 384], (Kind::Float, Device::Cpu));
    let tests: Vec<(&str, Box<dyn Fn() -> Tensor>)> = vec![
        ("deconv128-128@64x96", Box::new(|| d3.forward(&x128))),
        ("deconv128-128@128x192", Box::new(|| d3.forward(&x2))),
        ("deconv128-3@256x384", Box::new(|| d2.forward(&x3))),
        ("igdn@256x384", Box::new(|| g.forward(&x3))),
        ("deconv192-128", Box::new(|| d1.forward(&x))),
        ("deconv128-3", Box::new(|| d2.forward(&x128))),
        ("conv5s2", Box::new(|| c1.forward(&x128))),
        ("conv3", Box::new(|| c3.forward(&x128))),
        ("conv1x1", Box::new(|| c11.forward(&x128))),
        ("igdn", Box::new(|| g.forward(&x128))),
        ("abs", Box::new(|| x128.abs())),
        (
            "gdn-gamma-raw",
            Box::new(|| lic::nn::matmul_1x1(&x128.abs(), &g.gamma, None, 128, 128)),
        ),
        (
            "gdn-gamma-sq",
            Box::new(|| lic::nn::matmul_1x1(&x128.abs(), &g.gamma.square(), None, 128, 128)),
        ),
        (
            "gdn-gamma-lb",
            Box::new(|| {
                lic::nn::matmul_1x1(
                    &x128.abs(),
                    &lic::nn::lower_bound(&g.gamma, 0.001).square(),
                    None,
                    128,
                    128,
                )
            }),
        ),
        (
            "gdn-beta",
            Box::new(|| lic::nn::matmul_1x1(&x128.abs(), &g.gamma, Some(&g.beta), 128, 128)),
        ),
        (
            "matmul_1x1 fn",
            Box::new(|| {
                lic::nn::matmul_1x1(&x128, &c11.ws.view([128, 128]), c11.bs.as_ref(), 128, 128)
            }),
        ),
        (
            "matmul_1x1 nobias",
            Box::new(|| lic::nn::matmul_1x1(&x128, &c11.ws.view([128, 128]), None, 128, 128)),
        ),
        (
            "matmul_1x1 abs",
            Box::new(|| lic::nn::matmul_1x1(&x128.abs(), &c11.ws.view([128, 128]), None, 128, 128)),
        ),
        (
            "matmul_1x1 eye",
            Box::new(|| {
                lic::nn::matmul_1x1(
                    &x128.abs(),
                    &(Tensor::eye(128, (Kind::Float, Device::Cpu)) * 0.1 + 1e-6),
                    None,
                    128,
                    128,
                )
            }),
        ),
        (
            "matmul1x1",
            Box::new(|| {
                let w = c11.ws.view([128, 128]);
                w.matmul(&x128.view([128, -1])).view([1, 128, 64, 96])
            }),
        ),
        (
            "bmm1x1",
            Box::new(|| {
                let w = c11.ws.view([1, 128, 128]);
                w.bmm(&x128.view([1, 128, -1])).view([1, 128, 64, 96])
            }),
        ),
        (
            "conv1x1-f64",
            Box::new(|| {
                x128.to_kind(Kind::Double)
                    .conv2d(
                        &c11.ws.to_kind(Kind::Double),
                        None::<Tensor>,
                        [1, 1],
                        [0, 0],
                        [1, 1],
                        1,
                    )
                    .to_kind(Kind::Float)
            }),
        ),
        (
            "einsum-mul-sum",
            Box::new(|| {
                (c11.ws.view([1, 128, 128, 1, 1]) * x128.view([1, 1, 128, 64, 96])).sum_dim_intlist(
                    [2i64].as_slice(),
                    false,
                    Kind::Float,
                )
            }),
        ),
    ];
    for (name, f) in &tests {
        let mut hs = vec![];
        for t in [1, 2, 1, 2] {
            tch::set_num_threads(t);
            hs.push(tch::no_grad(|| h(&f())));
        }
        println!(
            "{name:16} t1 {:016x} t2 {:016x} {}",
            hs[0],
            hs[1],
            if hs[0] == hs[1] && hs[0] == hs[2] && hs[1] == hs[3] {
                "same"
            } else {
                "DIFFER"
            }
        );
    }
}
