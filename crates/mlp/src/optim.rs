//! Learning-rate schedules and optimizers.

/// A learning rate as a function of the step number `k` (0 for the first step).
///
/// ```
/// use mlp::Schedule;
/// let s = Schedule::Micrograd { steps: 100 };
/// assert_eq!(s.rate(0), 1.0);
/// assert_eq!(s.rate(50), 1.0 - 0.9 * 50.0 / 100.0);
/// assert_eq!(Schedule::Constant(0.05).rate(7), 0.05);
/// let lin = Schedule::Linear { start: 0.1, end: 0.0, steps: 10 };
/// assert_eq!((lin.rate(0), lin.rate(10), lin.rate(99)), (0.1, 0.0, 0.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Schedule {
    /// The same rate every step.
    Constant(f64),
    /// micrograd's demo: `1.0 − 0.9·k/steps`, from 1.0 down towards 0.1; after `steps` steps
    /// it stays at 0.1.
    Micrograd {
        /// The length of the run.
        steps: usize,
    },
    /// From `start` at step 0 to `end` at step `steps`, linearly, then `end`.
    Linear {
        /// The rate at step 0.
        start: f64,
        /// The rate from step `steps` on.
        end: f64,
        /// The length of the ramp.
        steps: usize,
    },
}

impl Schedule {
    /// The learning rate of step `k`.
    ///
    /// ```
    /// assert_eq!(mlp::Schedule::Micrograd { steps: 100 }.rate(99), 1.0 - 0.9 * 99.0 / 100.0);
    /// assert_eq!(mlp::Schedule::Micrograd { steps: 100 }.rate(500), 0.1);
    /// ```
    pub fn rate(&self, k: usize) -> f64 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::Micrograd { steps } => {
                if k >= steps {
                    0.1
                } else {
                    // micrograd evaluates 1.0 - 0.9*k/100 left to right, as this does.
                    1.0 - 0.9 * k as f64 / steps as f64
                }
            }
            Schedule::Linear { start, end, steps } => {
                if k >= steps {
                    end
                } else {
                    start + (end - start) * (k as f64 / steps as f64)
                }
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        match *self {
            Schedule::Constant(lr) if !lr.is_finite() => {
                Err(format!("the learning rate must be finite, got {lr}"))
            }
            Schedule::Linear { start, end, .. } if !(start.is_finite() && end.is_finite()) => Err(
                format!("the learning rates must be finite, got {start} to {end}"),
            ),
            _ => Ok(()),
        }
    }
}

/// How parameters move given their gradients.
///
/// ```
/// use mlp::{Optimizer, Schedule};
/// let sgd = Optimizer::Sgd { schedule: Schedule::Micrograd { steps: 100 } };
/// assert_eq!(sgd.learning_rate(0), 1.0);
/// let adam = Optimizer::adam(0.01);
/// assert_eq!(adam, Optimizer::Adam { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Optimizer {
    /// Plain gradient descent, micrograd's `p.data -= learning_rate * p.grad`.
    Sgd {
        /// The learning rate per step.
        schedule: Schedule,
    },
    /// Gradient descent with momentum (PyTorch's form): `v ← β·v + g`, `p ← p − lr·v`,
    /// with `v` starting at 0.
    Momentum {
        /// The learning rate per step.
        schedule: Schedule,
        /// The momentum coefficient β, in [0, 1).
        beta: f64,
    },
    /// Adam (Kingma & Ba) with bias correction:
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
    /// `p ← p − lr·m̂/(√v̂ + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`, `t` = 1 on the first
    /// update.
    Adam {
        /// The step size.
        lr: f64,
        /// The first-moment decay β₁, in [0, 1).
        beta1: f64,
        /// The second-moment decay β₂, in [0, 1).
        beta2: f64,
        /// ε, added to √v̂.
        eps: f64,
    },
}

impl Optimizer {
    /// Adam with the usual defaults: β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    ///
    /// ```
    /// assert_eq!(mlp::Optimizer::adam(0.001).learning_rate(5), 0.001);
    /// ```
    pub fn adam(lr: f64) -> Self {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// The learning rate of step `k` (Adam's is constant).
    ///
    /// ```
    /// use mlp::{Optimizer, Schedule};
    /// let m = Optimizer::Momentum { schedule: Schedule::Constant(0.1), beta: 0.9 };
    /// assert_eq!(m.learning_rate(3), 0.1);
    /// ```
    pub fn learning_rate(&self, k: usize) -> f64 {
        match self {
            Optimizer::Sgd { schedule } | Optimizer::Momentum { schedule, .. } => schedule.rate(k),
            Optimizer::Adam { lr, .. } => *lr,
        }
    }

    /// Checks the hyperparameters: finite rates, β's in [0, 1), ε > 0.
    ///
    /// ```
    /// assert!(mlp::Optimizer::adam(0.01).check().is_ok());
    /// let bad = mlp::Optimizer::Adam { lr: 0.01, beta1: 1.0, beta2: 0.999, eps: 1e-8 };
    /// assert!(bad.check().unwrap_err().contains("beta1"));
    /// ```
    ///
    /// # Errors
    ///
    /// A message naming the first bad value.
    pub fn check(&self) -> Result<(), String> {
        let beta = |name: &str, b: f64| {
            if (0.0..1.0).contains(&b) {
                Ok(())
            } else {
                Err(format!("{name} must be in [0, 1), got {b}"))
            }
        };
        match *self {
            Optimizer::Sgd { schedule } => schedule.check(),
            Optimizer::Momentum { schedule, beta: b } => {
                schedule.check()?;
                beta("momentum beta", b)
            }
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                if !lr.is_finite() {
                    return Err(format!("the learning rate must be finite, got {lr}"));
                }
                beta("beta1", beta1)?;
                beta("beta2", beta2)?;
                if eps > 0.0 && eps.is_finite() {
                    Ok(())
                } else {
                    Err(format!("eps must be positive and finite, got {eps}"))
                }
            }
        }
    }
}

/// An optimizer's memory (momentum velocity, Adam's moments and step count), with a
/// propose / commit split so a step that would produce a non-finite number changes nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct OptState {
    /// Momentum's velocity or Adam's first moment.
    m: Vec<f64>,
    /// Adam's second moment.
    v: Vec<f64>,
    /// Committed updates so far.
    t: u64,
    /// The number of parameters of the committed updates.
    n: usize,
    next_m: Vec<f64>,
    next_v: Vec<f64>,
}

/// Which number of an update went non-finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bad {
    /// The new value of parameter `i`.
    Param(usize, f64),
    /// The optimizer's state for parameter `i` (`what` names it).
    State(usize, &'static str, f64),
}

impl OptState {
    /// Writes the proposed new parameters into `out` and the proposed state into the
    /// scratch vectors; returns the first non-finite number, if any. Nothing is committed.
    pub(crate) fn propose(
        &mut self,
        opt: &Optimizer,
        k: usize,
        params: &[f64],
        grads: &[f64],
        out: &mut Vec<f64>,
    ) -> Option<Bad> {
        let n = params.len();
        out.clear();
        match *opt {
            Optimizer::Sgd { schedule } => {
                let lr = schedule.rate(k);
                out.extend(params.iter().zip(grads).map(|(&p, &g)| p - lr * g));
            }
            Optimizer::Momentum { schedule, beta } => {
                let lr = schedule.rate(k);
                self.m.resize(n, 0.0);
                self.next_m.clear();
                for i in 0..n {
                    let v = beta * self.m[i] + grads[i];
                    self.next_m.push(v);
                    out.push(params[i] - lr * v);
                }
                if let Some(i) = self.next_m.iter().position(|v| !v.is_finite()) {
                    return Some(Bad::State(i, "momentum velocity", self.next_m[i]));
                }
            }
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                self.m.resize(n, 0.0);
                self.v.resize(n, 0.0);
                self.next_m.clear();
                self.next_v.clear();
                let t = (self.t + 1) as f64;
                let c1 = 1.0 - beta1.powf(t);
                let c2 = 1.0 - beta2.powf(t);
                for i in 0..n {
                    let g = grads[i];
                    let m = beta1 * self.m[i] + (1.0 - beta1) * g;
                    let v = beta2 * self.v[i] + (1.0 - beta2) * (g * g);
                    self.next_m.push(m);
                    self.next_v.push(v);
                    out.push(params[i] - lr * (m / c1) / ((v / c2).sqrt() + eps));
                }
                if let Some(i) = self.next_m.iter().position(|v| !v.is_finite()) {
                    return Some(Bad::State(i, "Adam first moment", self.next_m[i]));
                }
                if let Some(i) = self.next_v.iter().position(|v| !v.is_finite()) {
                    return Some(Bad::State(i, "Adam second moment", self.next_v[i]));
                }
            }
        }
        out.iter()
            .position(|p| !p.is_finite())
            .map(|i| Bad::Param(i, out[i]))
    }

    /// The number of parameters this state is for, once an update was committed.
    pub(crate) fn size(&self) -> Option<usize> {
        (self.t > 0).then_some(self.n)
    }

    /// Makes the last proposal's state current (`n` parameters).
    pub(crate) fn commit(&mut self, opt: &Optimizer, n: usize) {
        match opt {
            Optimizer::Sgd { .. } => {}
            Optimizer::Momentum { .. } => std::mem::swap(&mut self.m, &mut self.next_m),
            Optimizer::Adam { .. } => {
                std::mem::swap(&mut self.m, &mut self.next_m);
                std::mem::swap(&mut self.v, &mut self.next_v);
            }
        }
        self.t += 1;
        self.n = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_and_momentum_updates() {
        let mut s = OptState::default();
        let sgd = Optimizer::Sgd {
            schedule: Schedule::Constant(0.5),
        };
        let mut out = Vec::new();
        assert_eq!(
            s.propose(&sgd, 0, &[1.0, 2.0], &[2.0, -2.0], &mut out),
            None
        );
        assert_eq!(out, vec![0.0, 3.0]);

        let mom = Optimizer::Momentum {
            schedule: Schedule::Constant(0.1),
            beta: 0.5,
        };
        let mut s = OptState::default();
        let mut p = vec![1.0];
        for expect_v in [1.0, 1.5, 1.75] {
            s.propose(&mom, 0, &p, &[1.0], &mut out);
            s.commit(&mom, 1);
            assert_eq!(s.m, vec![expect_v]);
            p = out.clone();
        }
        assert!((p[0] - (1.0 - 0.1 * (1.0 + 1.5 + 1.75))).abs() < 1e-15);
    }

    #[test]
    fn adam_first_step_moves_by_lr_in_the_gradient_sign() {
        let adam = Optimizer::adam(0.01);
        let mut s = OptState::default();
        let mut out = Vec::new();
        s.propose(&adam, 0, &[1.0, 1.0, 1.0], &[3.0, -0.2, 0.0], &mut out);
        assert!((out[0] - 0.99).abs() < 1e-9);
        assert!((out[1] - 1.01).abs() < 1e-9);
        assert_eq!(out[2], 1.0);
        // Not committed: a second proposal from the same state gives the same numbers.
        let first = out.clone();
        s.propose(&adam, 0, &[1.0, 1.0, 1.0], &[3.0, -0.2, 0.0], &mut out);
        assert_eq!(first, out);
        s.commit(&adam, 3);
        assert_eq!(s.t, 1);
    }

    #[test]
    fn non_finite_results_are_reported() {
        let mut s = OptState::default();
        let mut out = Vec::new();
        let sgd = Optimizer::Sgd {
            schedule: Schedule::Constant(1e308),
        };
        assert_eq!(
            s.propose(&sgd, 0, &[0.0, 0.0], &[0.5, -10.0], &mut out),
            Some(Bad::Param(1, f64::INFINITY))
        );
        let adam = Optimizer::adam(0.1);
        assert!(matches!(
            s.propose(&adam, 0, &[0.0], &[1e200], &mut out),
            Some(Bad::State(0, "Adam second moment", v)) if v == f64::INFINITY
        ));
    }

    #[test]
    fn schedules() {
        let s = Schedule::Micrograd { steps: 100 };
        for k in 0..100 {
            assert_eq!(s.rate(k), 1.0 - 0.9 * k as f64 / 100.0);
        }
        assert_eq!(Schedule::Micrograd { steps: 0 }.rate(0), 0.1);
        let l = Schedule::Linear {
            start: 1.0,
            end: 0.5,
            steps: 4,
        };
        assert_eq!(
            (0..6).map(|k| l.rate(k)).collect::<Vec<_>>(),
            vec![1.0, 0.875, 0.75, 0.625, 0.5, 0.5]
        );
        assert!(Schedule::Constant(f64::NAN).check().is_err());
    }
}
