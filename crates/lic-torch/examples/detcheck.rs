//! Which layers give different bits with 1 and 2 intra-op threads? Prints one line per layer.
//! (This is how the thread-count dependence of libtorch's CPU 1x1 convolution was found; the
//! codec now computes 1x1 convolutions as matrix products.)
//!
//!     cargo run --release --example detcheck

use tch::{nn, nn::Module, Device, Kind, Tensor};

type Case<'a> = (&'static str, Box<dyn Fn() -> Tensor + 'a>);

fn fingerprint(t: &Tensor) -> u64 {
    let v: Vec<f32> = Vec::try_from(t.contiguous().flatten(0, -1)).expect("f32");
    v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, f| {
        (h ^ f.to_bits() as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() {
    tch::manual_seed(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root();
    let opts = (Kind::Float, Device::Cpu);
    let y = Tensor::randn([1, 192, 32, 48], opts);
    let x = Tensor::randn([1, 128, 64, 96], opts);
    let big = Tensor::randn([1, 128, 256, 384], opts);
    let deconv_m = lic_torch::nn::deconv(&p / "d1", 192, 128, 5, 2);
    let deconv_3 = lic_torch::nn::deconv(&p / "d2", 128, 3, 5, 2);
    let conv5 = lic_torch::nn::conv(&p / "c5", 128, 128, 5, 2);
    let conv3 = lic_torch::nn::conv(&p / "c3", 128, 128, 3, 1);
    let conv1 = lic_torch::nn::conv(&p / "c1", 128, 128, 1, 1);
    let mm1 = lic_torch::nn::conv1x1(&p / "m1", 128, 128);
    let igdn = lic_torch::nn::Gdn::new(&p / "g", 128, true);
    let cases: Vec<Case> = vec![
        ("deconv 192->128, 5x5 s2", Box::new(|| deconv_m.forward(&y))),
        ("deconv 128->3, 5x5 s2", Box::new(|| deconv_3.forward(&big))),
        ("conv 5x5 s2", Box::new(|| conv5.forward(&x))),
        ("conv 3x3", Box::new(|| conv3.forward(&x))),
        ("conv2d 1x1 (libtorch)", Box::new(|| conv1.forward(&x))),
        ("conv1x1 (matmul)", Box::new(|| mm1.forward(&x))),
        ("inverse GDN", Box::new(|| igdn.forward(&big))),
    ];
    for (name, f) in &cases {
        let h: Vec<u64> = [1, 2, 1, 2]
            .iter()
            .map(|&t| {
                tch::set_num_threads(t);
                tch::no_grad(|| fingerprint(&f()))
            })
            .collect();
        let stable = h[0] == h[1] && h[0] == h[2] && h[1] == h[3];
        println!(
            "{name:28} {}",
            if stable {
                "same bits"
            } else {
                "DIFFERENT bits"
            }
        );
    }
}
