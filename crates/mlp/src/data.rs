//! Datasets: inputs with ±1 labels (or regression targets).

/// Samples for training: one input row and one label per sample.
///
/// For the classification losses labels are ±1 (micrograd's `y*2 - 1`); for the squared
/// errors they are any targets.
///
/// ```
/// use mlp::Dataset;
/// let d = Dataset::new(vec![vec![0.0, 1.0], vec![1.0, 0.0]], vec![1.0, -1.0]);
/// assert_eq!((d.len(), d.dim()), (2, 2));
/// assert!(!d.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dataset {
    /// One input row per sample; all rows have the same length.
    pub inputs: Vec<Vec<f64>>,
    /// One label (or target) per sample.
    pub labels: Vec<f64>,
}

impl Dataset {
    /// A dataset from rows and labels.
    ///
    /// ```
    /// let d = mlp::Dataset::new(vec![vec![1.0]], vec![-1.0]);
    /// assert_eq!(d.labels, vec![-1.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If there are not as many labels as rows, or the rows differ in length.
    #[track_caller]
    pub fn new(inputs: Vec<Vec<f64>>, labels: Vec<f64>) -> Self {
        let d = Dataset { inputs, labels };
        if let Err(e) = d.validate() {
            panic!("Dataset::new: {e}");
        }
        d
    }

    /// The input dimension (the first row's length; 0 when empty).
    ///
    /// ```
    /// assert_eq!(mlp::datasets::lecture_toy().dim(), 3);
    /// ```
    pub fn dim(&self) -> usize {
        self.inputs.first().map_or(0, Vec::len)
    }

    /// The number of samples.
    ///
    /// ```
    /// assert_eq!(mlp::datasets::two_moons(100, 0.1, 1).len(), 100);
    /// ```
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether there are no samples.
    ///
    /// ```
    /// assert!(mlp::Dataset::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Checks that there is one label per row and every row has [`Dataset::dim`] values.
    ///
    /// ```
    /// let bad = mlp::Dataset { inputs: vec![vec![1.0], vec![1.0, 2.0]], labels: vec![1.0, 1.0] };
    /// assert_eq!(bad.validate().unwrap_err(), "sample 1 has 2 inputs but sample 0 has 1");
    /// ```
    ///
    /// # Errors
    ///
    /// A message naming the first problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.labels.len() != self.inputs.len() {
            return Err(format!(
                "{} input rows but {} labels",
                self.inputs.len(),
                self.labels.len()
            ));
        }
        let dim = self.dim();
        match self.inputs.iter().position(|r| r.len() != dim) {
            Some(i) => Err(format!(
                "sample {i} has {} inputs but sample 0 has {dim}",
                self.inputs[i].len()
            )),
            None => Ok(()),
        }
    }

    /// The samples `indices`, in that order (repeats allowed).
    ///
    /// ```
    /// let d = mlp::datasets::lecture_toy();
    /// let s = d.subset(&[3, 0]);
    /// assert_eq!(s.labels, vec![1.0, 1.0]);
    /// assert_eq!(s.inputs[1], vec![2.0, 3.0, -1.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    #[track_caller]
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            inputs: indices.iter().map(|&i| self.inputs[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

/// Datasets generated from a seed (nothing is downloaded).
///
/// ```
/// let moons = mlp::datasets::two_moons(100, 0.1, 1337);
/// assert_eq!(moons, mlp::datasets::two_moons(100, 0.1, 1337));
/// assert_eq!(moons.labels.iter().filter(|&&y| y > 0.0).count(), 50);
/// ```
pub mod datasets {
    use super::Dataset;
    use crate::rng::Rng;
    use std::f64::consts::PI;

    /// Two interleaving half circles, scikit-learn's `make_moons` recipe, with micrograd's
    /// ±1 labels.
    ///
    /// `n / 2` points on the outer moon `(cos t, sin t)` (label −1) and the rest on the inner
    /// moon `(1 − cos t, 1 − sin t − 0.5)` (label +1), `t` evenly spaced over [0, π]
    /// endpoints included; the points are shuffled, then Gaussian noise of standard
    /// deviation `noise` is added to both coordinates. Everything comes from a ChaCha8
    /// stream seeded with `seed`, so the same arguments give the same dataset everywhere.
    /// (The numbers differ from scikit-learn's, which come from NumPy's generator.)
    ///
    /// ```
    /// let clean = mlp::datasets::two_moons(10, 0.0, 0);
    /// for (x, &y) in clean.inputs.iter().zip(&clean.labels) {
    ///     let (cx, cy) = if y < 0.0 { (0.0, 0.0) } else { (1.0, 0.5) };
    ///     let r = ((x[0] - cx).powi(2) + (x[1] - cy).powi(2)).sqrt();
    ///     assert!((r - 1.0).abs() < 1e-12);
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// If `noise` is negative or not finite.
    #[track_caller]
    pub fn two_moons(n: usize, noise: f64, seed: u64) -> Dataset {
        assert!(
            noise.is_finite() && noise >= 0.0,
            "two_moons: noise must be a finite standard deviation ≥ 0, got {noise}"
        );
        let n_out = n / 2;
        let n_in = n - n_out;
        let mut samples: Vec<([f64; 2], f64)> = Vec::with_capacity(n);
        samples.extend(linspace_pi(n_out).map(|t| ([t.cos(), t.sin()], -1.0)));
        samples.extend(linspace_pi(n_in).map(|t| ([1.0 - t.cos(), 1.0 - t.sin() - 0.5], 1.0)));
        let mut rng = Rng::new(seed);
        rng.shuffle(&mut samples);
        let mut d = Dataset {
            inputs: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
        };
        for ([x, y], label) in samples {
            let x = x + noise * rng.normal();
            let y = y + noise * rng.normal();
            d.inputs.push(vec![x, y]);
            d.labels.push(label);
        }
        d
    }

    /// `count` points evenly spaced over [0, π], endpoints included (NumPy's `linspace`).
    fn linspace_pi(count: usize) -> impl Iterator<Item = f64> {
        let step = if count > 1 {
            PI / (count - 1) as f64
        } else {
            0.0
        };
        (0..count).map(move |i| {
            if i + 1 == count && count > 1 {
                PI
            } else {
                i as f64 * step
            }
        })
    }

    /// The micrograd lecture's four samples, with their ±1 targets:
    /// `[2, 3, −1] → 1`, `[3, −1, 0.5] → −1`, `[0.5, 1, 1] → −1`, `[1, 1, −1] → 1`.
    ///
    /// ```
    /// let d = mlp::datasets::lecture_toy();
    /// assert_eq!(d.inputs[1], vec![3.0, -1.0, 0.5]);
    /// assert_eq!(d.labels, vec![1.0, -1.0, -1.0, 1.0]);
    /// ```
    pub fn lecture_toy() -> Dataset {
        Dataset {
            inputs: vec![
                vec![2.0, 3.0, -1.0],
                vec![3.0, -1.0, 0.5],
                vec![0.5, 1.0, 1.0],
                vec![1.0, 1.0, -1.0],
            ],
            labels: vec![1.0, -1.0, -1.0, 1.0],
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn linspace_matches_numpy_endpoints() {
            let t: Vec<f64> = linspace_pi(5).collect();
            assert_eq!(t[0], 0.0);
            assert_eq!(t[4], PI);
            assert_eq!(t[2], 2.0 * (PI / 4.0));
            assert_eq!(linspace_pi(1).collect::<Vec<_>>(), vec![0.0]);
            assert_eq!(linspace_pi(0).count(), 0);
        }

        #[test]
        fn moons_split_and_seed() {
            for n in [0, 1, 2, 7, 100] {
                let d = two_moons(n, 0.1, 5);
                assert_eq!(d.len(), n);
                assert!(d.validate().is_ok());
                let pos = d.labels.iter().filter(|&&y| y == 1.0).count();
                assert_eq!(pos, n - n / 2);
                assert!(d.labels.iter().all(|&y| y == 1.0 || y == -1.0));
            }
            let a = two_moons(100, 0.1, 1);
            let b = two_moons(100, 0.1, 2);
            assert_ne!(a, b);
            // Bitwise equal for the same seed.
            let c = two_moons(100, 0.1, 1);
            let bits = |d: &Dataset| -> Vec<u64> {
                d.inputs.iter().flatten().map(|v| v.to_bits()).collect()
            };
            assert_eq!(bits(&a), bits(&c));
        }

        #[test]
        fn noise_has_the_requested_spread() {
            let clean = two_moons(2000, 0.0, 9);
            let noisy = two_moons(2000, 0.2, 9);
            // Same shuffle (the noise is drawn after it), so the rows correspond.
            assert_eq!(clean.labels, noisy.labels);
            let d: Vec<f64> = clean
                .inputs
                .iter()
                .zip(&noisy.inputs)
                .flat_map(|(a, b)| [b[0] - a[0], b[1] - a[1]])
                .collect();
            let mean = d.iter().sum::<f64>() / d.len() as f64;
            let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
            assert!(mean.abs() < 0.02, "{mean}");
            assert!((sd - 0.2).abs() < 0.02, "{sd}");
        }
    }
}
