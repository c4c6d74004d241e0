//! Widening a trained WaLLoC-style model to more latent channels (a function-preserving start).
//!
//! The shipped `lic-walloc` keeps 16 of 192 wavelet-coefficient values per 8x8 block, which caps
//! its quality near 30 dB. Training a wider model from scratch on two CPU cores would first spend
//! hours relearning what the narrow one knows, so [`widen_walloc`] embeds the narrow model in the
//! wide one:
//!
//! - the old latent channels keep their encoder rows, gains, decoder and hyperprior weights;
//! - the new encoder rows keep their fresh (band-selection) initialization, so the new latents
//!   carry information from the first step;
//! - every weight that reads a new latent (decoder linear path, first refinement convolution,
//!   first hyper-analysis convolution) starts at zero, and the new channels' predicted mean
//!   starts at zero with the old channels' scale rows,
//!
//! so the widened model reconstructs exactly like the narrow one and only pays the new channels'
//! rate until training teaches the decoder to use them.

use tch::nn;

use crate::nn::weights::TensorFile;

/// How the latent axis of one parameter is filled beyond the old channels.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Keep the wide model's fresh initialization (new encoder rows).
    Fresh,
    /// Zero (everything that reads a new latent; new encoder biases).
    Zero,
    /// The mean of the old channels (gain vectors).
    Mean,
    /// The hyper-synthesis output `[μ (C), σ (C)]`: new μ rows zero, new σ rows copied
    /// cyclically from the old σ rows.
    MuSigma,
}

/// (parameter, latent axis, fill) for every walloc parameter with a latent-sized axis.
const LATENT_AXES: &[(&str, usize, Fill)] = &[
    ("encoder.weight", 0, Fill::Fresh),
    ("encoder.bias", 0, Fill::Zero),
    ("gain", 1, Fill::Mean),
    ("inv_gain", 1, Fill::Mean),
    ("decoder.linear.weight", 1, Fill::Zero),
    ("decoder.refine.0.weight", 1, Fill::Zero),
    ("h_a.0.weight", 1, Fill::Zero),
    ("h_s.4.weight", 0, Fill::MuSigma),
    ("h_s.4.bias", 0, Fill::MuSigma),
];

/// Copies the narrow walloc weights of `old` into the wider model held by `vs` (see the module
/// documentation). Every other parameter must match in shape, and every variable must be present
/// in `old`.
pub fn widen_walloc(vs: &nn::VarStore, old: &TensorFile) -> anyhow::Result<()> {
    let vars = vs.variables();
    let old_c = old
        .tensors
        .get("encoder.weight")
        .ok_or_else(|| anyhow::anyhow!("{}: no encoder.weight", old.path.display()))?
        .size()[0];
    let new_c = vars
        .get("encoder.weight")
        .ok_or_else(|| anyhow::anyhow!("--widen needs a walloc architecture"))?
        .size()[0];
    anyhow::ensure!(
        new_c > old_c,
        "--widen: the new model has {new_c} latent channels, {} has {old_c}; it must have more",
        old.path.display()
    );
    for (name, var) in &vars {
        let src = old
            .tensors
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("{}: missing parameter {name}", old.path.display()))?;
        let src = src.to_kind(var.kind()).to_device(var.device());
        let rule = LATENT_AXES.iter().find(|(n, _, _)| n == name);
        let expect = match rule {
            Some(&(_, axis, fill)) => {
                let mut s = var.size();
                s[axis] = match fill {
                    Fill::MuSigma => 2 * old_c,
                    _ => old_c,
                };
                s
            }
            None => var.size(),
        };
        anyhow::ensure!(
            src.size() == expect,
            "{}: {name} has shape {:?}, widening needs {:?}",
            old.path.display(),
            src.size(),
            expect
        );
        let mut dst = var.shallow_clone();
        tch::no_grad(|| match rule {
            None => dst.copy_(&src),
            Some(&(_, axis, fill)) => {
                let axis = axis as i64;
                let extra = new_c - old_c;
                match fill {
                    Fill::Fresh => dst.narrow(axis, 0, old_c).copy_(&src),
                    Fill::Zero => {
                        let _ = dst.zero_();
                        dst.narrow(axis, 0, old_c).copy_(&src);
                    }
                    Fill::Mean => {
                        dst.narrow(axis, 0, old_c).copy_(&src);
                        let mean = src.mean_dim(Some(&[axis][..]), true, src.kind());
                        dst.narrow(axis, old_c, extra)
                            .copy_(&mean.expand_as(&dst.narrow(axis, old_c, extra)));
                    }
                    Fill::MuSigma => {
                        let _ = dst.zero_();
                        dst.narrow(axis, 0, old_c)
                            .copy_(&src.narrow(axis, 0, old_c));
                        let sigma = src.narrow(axis, old_c, old_c);
                        dst.narrow(axis, new_c, old_c).copy_(&sigma);
                        for i in 0..extra {
                            dst.narrow(axis, new_c + old_c + i, 1).copy_(&sigma.narrow(
                                axis,
                                i % old_c,
                                1,
                            ));
                        }
                    }
                }
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::weights;
    use crate::zoo::{Network, WallocConfig};
    use tch::{Device, Kind, Tensor};

    fn is_zero(t: &Tensor) -> bool {
        t.abs().max().double_value(&[]) == 0.0
    }

    /// The variables of `vs` as if read from a weights file.
    fn as_file(vs: &nn::VarStore) -> TensorFile {
        let bytes = weights::to_bytes(
            &weights::named_vars(vs, ""),
            weights::FloatStorage::F32,
            &Default::default(),
        )
        .unwrap();
        TensorFile::from_bytes(&bytes, std::path::Path::new("narrow")).unwrap()
    }

    fn tiny(latent: i64) -> WallocConfig {
        WallocConfig {
            latent,
            ..WallocConfig::tiny()
        }
    }

    #[test]
    fn a_widened_model_reconstructs_like_the_narrow_one() {
        tch::manual_seed(3);
        let narrow_vs = nn::VarStore::new(Device::Cpu);
        let narrow = Network::new(&narrow_vs.root(), tiny(8).into());
        // Make every parameter non-trivial, so that a wrong copy shows.
        tch::no_grad(|| {
            for (_, mut v) in narrow_vs.variables() {
                let noise = v.randn_like() * 0.05;
                let _ = v.g_add_(&noise);
            }
        });
        let file = as_file(&narrow_vs);

        let wide_vs = nn::VarStore::new(Device::Cpu);
        let wide = Network::new(&wide_vs.root(), tiny(12).into());
        widen_walloc(&wide_vs, &file).unwrap();
        let vars = wide_vs.variables();
        assert!(is_zero(&vars["decoder.linear.weight"].narrow(1, 8, 4)));
        assert!(!is_zero(&vars["encoder.weight"].narrow(0, 8, 4)));

        let x = Tensor::rand([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        let q = [1.3, 2.6];
        let a = narrow.forward(&x, &q, false);
        let b = wide.forward(&x, &q, false);
        let diff = (&a.x_hat - &b.x_hat).abs().max().double_value(&[]);
        assert_eq!(diff, 0.0, "reconstructions differ by {diff}");
        let total = |t: &Tensor| t.sum(Kind::Double).double_value(&[]);
        assert_eq!(
            total(&a.z_bits),
            total(&b.z_bits),
            "the hyper-latent must not change"
        );
        assert!(total(&b.y_bits) > total(&a.y_bits));
    }

    #[test]
    fn narrowing_or_other_architectures_are_refused() {
        let vs8 = nn::VarStore::new(Device::Cpu);
        let _ = Network::new(&vs8.root(), tiny(8).into());
        let file = as_file(&vs8);
        let same = nn::VarStore::new(Device::Cpu);
        let _ = Network::new(&same.root(), tiny(8).into());
        let e = widen_walloc(&same, &file).unwrap_err().to_string();
        assert!(e.contains("must have more"), "{e}");
        let elic = nn::VarStore::new(Device::Cpu);
        let _ = Network::new(&elic.root(), crate::zoo::ElicConfig::tiny().into());
        let e = widen_walloc(&elic, &file).unwrap_err().to_string();
        assert!(e.contains("walloc"), "{e}");
    }
}
