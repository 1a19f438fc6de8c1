//! The demo step written by hand: explicit gradient loops, no autodiff. These are the
//! yardsticks the tape's training step is measured against (`cargo bench --bench training`).

// Index loops mirror the math (w[j][k], h1[j]) and are what the compiler vectorizes here.
#![allow(clippy::needless_range_loop)]

use crate::ALPHA;

const H: usize = 16;

/// One SGD step with plain scalar loops over the `mlp` parameter layout (neuron-major, each
/// neuron's weights then its bias). Returns the loss before the update.
pub fn step_plain(
    params: &mut [f64],
    grads: &mut Vec<f64>,
    xs: &[[f64; 2]],
    ys: &[f64],
    lr: f64,
) -> f64 {
    let (o1, o2) = (0, H * 3);
    let o3 = o2 + H * (H + 1);
    assert_eq!(params.len(), o3 + H + 1, "parameters of a 2-16-16-1 MLP");
    grads.clear();
    grads.resize(params.len(), 0.0);
    let n = xs.len() as f64;
    let mut data_loss = 0.0;
    let (mut h1, mut h2) = ([0.0; H], [0.0; H]);
    let mut d2 = [0.0; H];
    for (x, &y) in xs.iter().zip(ys) {
        for j in 0..H {
            let p = o1 + j * 3;
            let z = params[p + 2] + params[p] * x[0] + params[p + 1] * x[1];
            h1[j] = if z < 0.0 { 0.0 } else { z };
        }
        for k in 0..H {
            let p = o2 + k * (H + 1);
            let mut z = params[p + H];
            for j in 0..H {
                z += params[p + j] * h1[j];
            }
            h2[k] = if z < 0.0 { 0.0 } else { z };
        }
        let mut s = params[o3 + H];
        for k in 0..H {
            s += params[o3 + k] * h2[k];
        }
        let margin = 1.0 - y * s;
        if margin <= 0.0 {
            continue;
        }
        data_loss += margin;
        let ds = -y / n;
        grads[o3 + H] += ds;
        for k in 0..H {
            grads[o3 + k] += ds * h2[k];
            d2[k] = if h2[k] > 0.0 {
                ds * params[o3 + k]
            } else {
                0.0
            };
        }
        let mut d1 = [0.0; H];
        for k in 0..H {
            let p = o2 + k * (H + 1);
            grads[p + H] += d2[k];
            for j in 0..H {
                grads[p + j] += d2[k] * h1[j];
                d1[j] += d2[k] * params[p + j];
            }
        }
        for j in 0..H {
            let dz = if h1[j] > 0.0 { d1[j] } else { 0.0 };
            let p = o1 + j * 3;
            grads[p] += dz * x[0];
            grads[p + 1] += dz * x[1];
            grads[p + 2] += dz;
        }
    }
    let mut reg = 0.0;
    for (w, g) in params.iter_mut().zip(grads.iter()) {
        reg += *w * *w;
        *w -= lr * (g + 2.0 * ALPHA * *w);
    }
    data_loss / n + ALPHA * reg
}

/// The demo network stored input-major (`w2[j][k]` joins hidden unit `j` to unit `k`), so
/// every inner loop runs across a layer's 16 neurons and the compiler vectorizes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    w1: [[f64; H]; 2],
    b1: [f64; H],
    w2: [[f64; H]; H],
    b2: [f64; H],
    w3: [f64; H],
    b3: f64,
}

impl Net {
    /// From the `mlp` parameter layout.
    pub fn from_params(p: &[f64]) -> Net {
        let (o2, o3) = (H * 3, H * 3 + H * (H + 1));
        let mut net = Net {
            w1: [[0.0; H]; 2],
            b1: [0.0; H],
            w2: [[0.0; H]; H],
            b2: [0.0; H],
            w3: [0.0; H],
            b3: p[o3 + H],
        };
        for j in 0..H {
            net.w1[0][j] = p[j * 3];
            net.w1[1][j] = p[j * 3 + 1];
            net.b1[j] = p[j * 3 + 2];
        }
        for k in 0..H {
            for j in 0..H {
                net.w2[j][k] = p[o2 + k * (H + 1) + j];
            }
            net.b2[k] = p[o2 + k * (H + 1) + H];
            net.w3[k] = p[o3 + k];
        }
        net
    }

    /// Back to the `mlp` parameter layout.
    pub fn to_params(&self) -> Vec<f64> {
        let mut p = Vec::with_capacity(crate::num_parameters(&crate::SIZES));
        for j in 0..H {
            p.extend([self.w1[0][j], self.w1[1][j], self.b1[j]]);
        }
        for k in 0..H {
            p.extend((0..H).map(|j| self.w2[j][k]));
            p.push(self.b2[k]);
        }
        p.extend(self.w3);
        p.push(self.b3);
        p
    }

    /// One SGD step, every inner loop across a layer's neurons. Returns the loss before the
    /// update.
    pub fn step(&mut self, grad: &mut Net, xs: &[[f64; 2]], ys: &[f64], lr: f64) -> f64 {
        grad.zero();
        let n = xs.len() as f64;
        let mut data_loss = 0.0;
        for (x, &y) in xs.iter().zip(ys) {
            let mut h1 = self.b1;
            for i in 0..2 {
                for j in 0..H {
                    h1[j] += self.w1[i][j] * x[i];
                }
            }
            h1 = h1.map(|z| if z < 0.0 { 0.0 } else { z });
            let mut h2 = self.b2;
            for j in 0..H {
                for k in 0..H {
                    h2[k] += self.w2[j][k] * h1[j];
                }
            }
            h2 = h2.map(|z| if z < 0.0 { 0.0 } else { z });
            let mut s = [0.0; H];
            for k in 0..H {
                s[k] = self.w3[k] * h2[k];
            }
            let s = self.b3 + s.iter().sum::<f64>();
            let margin = 1.0 - y * s;
            if margin <= 0.0 {
                continue;
            }
            data_loss += margin;
            let ds = -y / n;
            grad.b3 += ds;
            let mut d2 = [0.0; H];
            for k in 0..H {
                grad.w3[k] += ds * h2[k];
                d2[k] = if h2[k] > 0.0 { ds * self.w3[k] } else { 0.0 };
                grad.b2[k] += d2[k];
            }
            let mut d1 = [0.0; H];
            for j in 0..H {
                let mut acc = [0.0; H];
                for k in 0..H {
                    grad.w2[j][k] += d2[k] * h1[j];
                    acc[k] = d2[k] * self.w2[j][k];
                }
                d1[j] = if h1[j] > 0.0 { acc.iter().sum() } else { 0.0 };
            }
            for i in 0..2 {
                for j in 0..H {
                    grad.w1[i][j] += d1[j] * x[i];
                }
            }
            for j in 0..H {
                grad.b1[j] += d1[j];
            }
        }
        let mut reg = 0.0;
        self.for_each_pair(grad, |w, g| {
            reg += *w * *w;
            *w -= lr * (g + 2.0 * ALPHA * *w);
        });
        data_loss / n + ALPHA * reg
    }

    fn zero(&mut self) {
        *self = Net {
            w1: [[0.0; H]; 2],
            b1: [0.0; H],
            w2: [[0.0; H]; H],
            b2: [0.0; H],
            w3: [0.0; H],
            b3: 0.0,
        };
    }

    fn for_each_pair(&mut self, g: &Net, mut f: impl FnMut(&mut f64, f64)) {
        let rows = self.w1.iter_mut().chain(self.w2.iter_mut());
        let grows = g.w1.iter().chain(g.w2.iter());
        for (row, grow) in rows.zip(grows) {
            row.iter_mut().zip(grow).for_each(|(w, &d)| f(w, d));
        }
        let vecs = [
            (&mut self.b1, &g.b1),
            (&mut self.b2, &g.b2),
            (&mut self.w3, &g.w3),
        ];
        for (v, gv) in vecs {
            v.iter_mut().zip(gv).for_each(|(w, &d)| f(w, d));
        }
        f(&mut self.b3, g.b3);
    }
}
