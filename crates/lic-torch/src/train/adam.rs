//! Adam (Kingma & Ba) with its moment buffers exposed, so a checkpoint holds the complete
//! optimizer state and training resumes exactly.

use tch::Tensor;

pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken (for bias correction).
    pub t: u64,
    /// `(name, parameter, first moment, second moment)`.
    pub params: Vec<(String, Tensor, Tensor, Tensor)>,
}

impl Adam {
    pub fn new(params: Vec<(String, Tensor)>) -> Self {
        let params = params
            .into_iter()
            .map(|(n, p)| {
                let m = p.zeros_like().detach();
                let v = p.zeros_like().detach();
                (n, p, m, v)
            })
            .collect();
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            params,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p, _, _) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// L2 norm of all gradients.
    pub fn grad_norm(&self) -> f64 {
        let mut s = 0f64;
        for (_, p, _, _) in &self.params {
            let g = p.grad();
            if g.defined() {
                s += g.square().sum(tch::Kind::Double).double_value(&[]);
            }
        }
        s.sqrt()
    }

    /// One update with learning rate `lr`; gradients are scaled by `grad_scale` first (clipping).
    pub fn step(&mut self, lr: f64, grad_scale: f64) {
        self.t += 1;
        let betas = (self.beta1, self.beta2, self.eps);
        let t = self.t;
        tch::no_grad(|| {
            for (_, p, m, v) in &mut self.params {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                crate::nn::adam_update(p, m, v, &(&g * grad_scale), lr, betas, t);
            }
        });
    }

    /// The moments as checkpoint tensors `PREFIX.m.NAME` and `PREFIX.v.NAME`.
    pub fn state_tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut v = Vec::with_capacity(2 * self.params.len());
        for (name, _, m, s) in &self.params {
            v.push((format!("{prefix}.m.{name}"), m.shallow_clone()));
            v.push((format!("{prefix}.v.{name}"), s.shallow_clone()));
        }
        v
    }

    /// Restores the moments written by [`Adam::state_tensors`] and the step count `t`.
    pub fn load_state(
        &mut self,
        file: &crate::nn::weights::TensorFile,
        prefix: &str,
        t: u64,
    ) -> anyhow::Result<()> {
        self.t = t;
        for (name, p, m, v) in &mut self.params {
            for (buf, kind) in [(m, "m"), (v, "v")] {
                let key = format!("{prefix}.{kind}.{name}");
                let src = file
                    .tensors
                    .get(&key)
                    .ok_or_else(|| anyhow::anyhow!("{}: missing {key}", file.path.display()))?;
                let dev = p.device();
                tch::no_grad(|| buf.copy_(&src.to_device(dev)));
            }
        }
        Ok(())
    }
}
