//! The number a node carries: [`f64`], or [`Lanes<N>`]: N samples run through one recording.
//!
//! The op table's formulas are written once. Their forward rules are `f64` rules, which a lane
//! number runs lane by lane ([`Storage::map`]); their derivatives are written over [`Field`],
//! which `f64`, the recorded `Var`, the engine's dual numbers and `Lanes<N>` implement, so a
//! lane tape runs the very formulas a scalar tape runs, with the same IEEE operations per lane.

use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

pub(crate) use private::{Field, Storage};

use crate::real::Real;

mod private {
    use std::ops::{Add, Div, Mul, Neg, Sub};

    /// What the op table's derivative rules use: arithmetic, with `Var`s and with `f64`
    /// constants, and the few functions the rules call.
    pub trait Field:
        Copy
        + Add<Output = Self>
        + Sub<Output = Self>
        + Mul<Output = Self>
        + Div<Output = Self>
        + Neg<Output = Self>
        + Add<f64, Output = Self>
        + Sub<f64, Output = Self>
        + Mul<f64, Output = Self>
        + Div<f64, Output = Self>
    {
        fn constant(self, c: f64) -> Self;
        fn rsub(self, c: f64) -> Self;
        fn gate(self, by: Self) -> Self;
        /// `self · sgn(x)`, with PyTorch's `sgn` taken as a constant mask (so abs'' = 0).
        fn mul_sgn(self, x: Self) -> Self;
        fn sin(self) -> Self;
        fn cos(self) -> Self;
        fn sinh(self) -> Self;
        fn cosh(self) -> Self;
        fn powf(self, e: f64) -> Self;
        fn powi(self, n: i32) -> Self;
    }

    /// What the tape needs of the number it stores, beyond the formulas: applying an `f64`
    /// rule lane by lane, and the per-lane tests of the sweep.
    pub trait Storage: Field + Default + PartialEq + std::fmt::Debug + 'static {
        /// Which lanes a masked add updates: `bool` for `f64`, a flag per lane for lanes.
        type Mask: Copy;

        /// Whether this is a lane number (even of one lane): anomalies then name a lane.
        const LANED: bool;

        /// `f` applied to each lane.
        fn map(self, f: impl Fn(f64) -> f64) -> Self;

        /// `f` applied to each pair of lanes.
        fn zip_map(self, other: Self, f: impl Fn(f64, f64) -> f64) -> Self;

        /// Bit `l` set where lane `l` is NaN or ±inf.
        fn non_finite_bits(self) -> u64;

        /// Each lane's bits shifted left by one, or-ed: 0 exactly when every lane is ±0.
        fn zero_bits(self) -> u64;

        /// Whether every lane is ±0.
        fn is_zero(self) -> bool;

        /// The lanes a node whose adjoint is `g` must update: those where `g` is not ±0, and
        /// those in `dirty` (lanes with a non-finite value or local derivative, where the
        /// scalar sweep skips no zero), and whether that is all of them. `None` when there
        /// are none.
        fn live(g: Self, dirty: Self::Mask) -> Option<(Self::Mask, bool)>;

        /// The lanes of bit set `bits`.
        fn mask_of(bits: u64) -> Self::Mask;

        /// Both masks' lanes.
        fn both(a: Self::Mask, b: Self::Mask) -> Self::Mask;

        /// `d` in the lanes of `mask`, −0 elsewhere: −0 is the one number whose addition
        /// leaves every adjoint's bits as they are, so a masked lane is a skipped one. `d` is
        /// ±0 outside `mask` (a contribution of a zero adjoint in a clean lane, where every
        /// factor is finite), so setting the sign bit there is enough.
        fn masked(d: Self, mask: Self::Mask) -> Self;

        /// Bit `l` set where some value's lane `l` is not finite.
        fn non_finite_lanes(values: &[Self]) -> u64;
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl<const N: usize> Sealed for super::Lanes<N> {}
}

/// Every formula the engine writes over [`Real`] serves the op table too.
impl<T: Real> Field for T {
    #[inline(always)]
    fn constant(self, c: f64) -> Self {
        Real::constant(self, c)
    }
    #[inline(always)]
    fn rsub(self, c: f64) -> Self {
        Real::rsub(self, c)
    }
    #[inline(always)]
    #[track_caller]
    fn gate(self, by: Self) -> Self {
        Real::gate(self, by)
    }
    #[inline(always)]
    #[track_caller]
    fn mul_sgn(self, x: Self) -> Self {
        self * sgn(Real::value(x))
    }
    #[inline(always)]
    #[track_caller]
    fn sin(self) -> Self {
        Real::sin(self)
    }
    #[inline(always)]
    #[track_caller]
    fn cos(self) -> Self {
        Real::cos(self)
    }
    #[inline(always)]
    #[track_caller]
    fn sinh(self) -> Self {
        Real::sinh(self)
    }
    #[inline(always)]
    #[track_caller]
    fn cosh(self) -> Self {
        Real::cosh(self)
    }
    #[inline(always)]
    #[track_caller]
    fn powf(self, e: f64) -> Self {
        Real::powf(self, e)
    }
    #[inline(always)]
    #[track_caller]
    fn powi(self, n: i32) -> Self {
        Real::powi(self, n)
    }
}

/// PyTorch's `sgn`: 0 at ±0 (`f64::signum(0.0)` is 1), NaN at NaN.
#[inline(always)]
pub(crate) fn sgn(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// The number each node of a [`Tape`](crate::Tape) carries: `f64` (the default), or
/// [`Lanes<N>`], N samples at once.
///
/// The trait is sealed. Write code that works on both with it as a bound:
///
/// ```
/// use tapegrad::{Lanes, Number, Tape, Var};
///
/// fn square_plus_one<T: Number>(tape: &Tape<T>, x: T) -> (T, T) {
///     let x = tape.var(x);
///     let y = x * x + 1.0;
///     let g = y.backward();
///     (y.value(), g[x])
/// }
///
/// assert_eq!(square_plus_one(&Tape::new(), 3.0), (10.0, 6.0));
/// let (y, dy) = square_plus_one(&Tape::<Lanes<2>>::new(), Lanes::new([3.0, -1.0]));
/// assert_eq!((y.to_array(), dy.to_array()), ([10.0, 2.0], [6.0, -2.0]));
/// ```
pub trait Number: sealed::Sealed + Storage + fmt::Display + Send + Sync {
    /// How many samples one number carries: 1 for `f64`, N for `Lanes<N>`.
    ///
    /// ```
    /// use tapegrad::{Lanes, Number};
    /// assert_eq!(<f64 as Number>::LANES, 1);
    /// assert_eq!(<Lanes<8> as Number>::LANES, 8);
    /// ```
    const LANES: usize;

    /// `x` in every lane.
    ///
    /// ```
    /// use tapegrad::{Lanes, Number};
    /// assert_eq!(<Lanes<2> as Number>::splat(1.5), Lanes::new([1.5, 1.5]));
    /// ```
    fn splat(x: f64) -> Self;

    /// Lane `i` (`i < LANES`).
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Number::LANES`].
    ///
    /// ```
    /// use tapegrad::{Lanes, Number};
    /// assert_eq!(Number::lane(2.5, 0), 2.5);
    /// assert_eq!(Number::lane(Lanes::new([1.0, 2.0]), 1), 2.0);
    /// ```
    fn lane(self, i: usize) -> f64;
}

impl Storage for f64 {
    type Mask = bool;
    const LANED: bool = false;

    #[inline(always)]
    fn map(self, f: impl Fn(f64) -> f64) -> Self {
        f(self)
    }
    #[inline(always)]
    fn zip_map(self, other: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        f(self, other)
    }
    #[inline(always)]
    fn non_finite_bits(self) -> u64 {
        u64::from(!self.is_finite())
    }
    #[inline(always)]
    fn zero_bits(self) -> u64 {
        self.to_bits() << 1
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        // A comparison, where the bit test costs a shift more per node.
        self == 0.0
    }
    #[inline(always)]
    fn live(g: Self, dirty: bool) -> Option<(bool, bool)> {
        (g != 0.0 || dirty).then_some((true, true))
    }
    #[inline(always)]
    fn mask_of(bits: u64) -> bool {
        bits & 1 != 0
    }
    #[inline(always)]
    fn both(a: bool, b: bool) -> bool {
        a & b
    }
    #[inline(always)]
    fn masked(d: Self, _: bool) -> Self {
        // One lane: a node is visited only where its lane is live.
        d
    }
    fn non_finite_lanes(values: &[Self]) -> u64 {
        u64::from(!crate::sweep::all_finite(values))
    }
}

impl Number for f64 {
    const LANES: usize = 1;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        x
    }
    #[track_caller]
    fn lane(self, i: usize) -> f64 {
        assert!(i == 0, "tapegrad: lane {i} of an f64, which has one lane");
        self
    }
}

/// N samples carried by one node: the number of a lane tape, `Tape<Lanes<N>>`.
///
/// A lane tape records a program once and runs it on N inputs at a time, as JAX's `vmap`
/// batches a function: every operation and its derivative run lane by lane with the same
/// IEEE formulas as on `f64`, so lane `l` of every value and gradient has the bits that a
/// `Tape<f64>` gives on lane `l`'s numbers. The arithmetic here is elementwise.
///
/// ```
/// use tapegrad::Lanes;
///
/// let a = Lanes::new([1.0, 2.0, 3.0, 4.0]);
/// let b = a * 2.0 + Lanes::splat(1.0);
/// assert_eq!(b.to_array(), [3.0, 5.0, 7.0, 9.0]);
/// assert_eq!(b.sum(), 24.0);
/// assert_eq!(b.to_string(), "[3, 5, 7, 9]");
/// ```
#[derive(Clone, Copy, PartialEq)]
#[repr(transparent)]
pub struct Lanes<const N: usize>([f64; N]);

impl<const N: usize> Lanes<N> {
    /// The lanes `values`.
    ///
    /// ```
    /// let l = tapegrad::Lanes::new([0.5, -1.0]);
    /// assert_eq!(l.to_array(), [0.5, -1.0]);
    /// ```
    #[inline(always)]
    pub const fn new(values: [f64; N]) -> Self {
        Lanes(values)
    }

    /// `x` in every lane: how a parameter, the same for every sample, goes on a lane tape.
    ///
    /// ```
    /// assert_eq!(tapegrad::Lanes::<3>::splat(2.0).to_array(), [2.0; 3]);
    /// ```
    #[inline(always)]
    pub const fn splat(x: f64) -> Self {
        Lanes([x; N])
    }

    /// Lane `i` is `f(i)`.
    ///
    /// ```
    /// let l = tapegrad::Lanes::<4>::from_fn(|i| i as f64);
    /// assert_eq!(l.to_array(), [0.0, 1.0, 2.0, 3.0]);
    /// ```
    #[inline(always)]
    pub fn from_fn(f: impl FnMut(usize) -> f64) -> Self {
        Lanes(std::array::from_fn(f))
    }

    /// The lanes as an array.
    ///
    /// ```
    /// assert_eq!(tapegrad::Lanes::<2>::splat(1.0).to_array(), [1.0, 1.0]);
    /// ```
    #[inline(always)]
    pub const fn to_array(self) -> [f64; N] {
        self.0
    }

    /// The lanes, borrowed.
    ///
    /// ```
    /// let l = tapegrad::Lanes::new([1.0, 2.0]);
    /// assert_eq!(l.as_array()[1], 2.0);
    /// ```
    #[inline(always)]
    pub const fn as_array(&self) -> &[f64; N] {
        &self.0
    }

    /// The sum of the lanes, added in lane order (`((l₀ + l₁) + l₂) + …`): a parameter's
    /// gradient over a lane tape's samples.
    ///
    /// ```
    /// assert_eq!(tapegrad::Lanes::new([1.0, 2.0, 3.5]).sum(), 6.5);
    /// ```
    #[inline]
    pub fn sum(self) -> f64 {
        let mut acc = self.0.first().copied().unwrap_or(0.0);
        for &x in self.0.iter().skip(1) {
            acc += x;
        }
        acc
    }

    /// `f` on each pair of lanes: a loop over arrays, which vectorizes where `from_fn` did
    /// not (callgrind: 20 % of a lane sweep's instructions went to its lane-by-lane code).
    #[inline(always)]
    fn zip(self, other: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        let mut out = self.0;
        for (a, &b) in out.iter_mut().zip(&other.0) {
            *a = f(*a, b);
        }
        Lanes(out)
    }

    /// `f` on each lane.
    #[inline(always)]
    fn each(self, f: impl Fn(f64) -> f64) -> Self {
        let mut out = self.0;
        for a in out.iter_mut() {
            *a = f(*a);
        }
        Lanes(out)
    }
}

impl<const N: usize> Default for Lanes<N> {
    /// Every lane `+0.0`.
    fn default() -> Self {
        Lanes([0.0; N])
    }
}

impl<const N: usize> From<[f64; N]> for Lanes<N> {
    fn from(values: [f64; N]) -> Self {
        Lanes(values)
    }
}

impl<const N: usize> fmt::Debug for Lanes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lanes")?;
        f.debug_list().entries(self.0).finish()
    }
}

/// The lanes in brackets, each formatted as `f64` is (precision and width apply to each).
impl<const N: usize> fmt::Display for Lanes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (l, x) in self.0.iter().enumerate() {
            if l > 0 {
                f.write_str(", ")?;
            }
            fmt::Display::fmt(x, f)?;
        }
        f.write_str("]")
    }
}

macro_rules! lane_operator {
    ($Trait:ident $method:ident, $Assign:ident $assign:ident, $op:tt) => {
        impl<const N: usize> $Trait for Lanes<N> {
            type Output = Lanes<N>;
            #[inline(always)]
            fn $method(self, rhs: Lanes<N>) -> Lanes<N> {
                self.zip(rhs, |a, b| a $op b)
            }
        }
        impl<const N: usize> $Trait<f64> for Lanes<N> {
            type Output = Lanes<N>;
            #[inline(always)]
            fn $method(self, rhs: f64) -> Lanes<N> {
                self.each(|a| a $op rhs)
            }
        }
        impl<const N: usize> $Trait<Lanes<N>> for f64 {
            type Output = Lanes<N>;
            #[inline(always)]
            fn $method(self, rhs: Lanes<N>) -> Lanes<N> {
                rhs.each(|b| self $op b)
            }
        }
        impl<const N: usize> $Assign for Lanes<N> {
            #[inline(always)]
            fn $assign(&mut self, rhs: Lanes<N>) {
                *self = *self $op rhs;
            }
        }
        impl<const N: usize> $Assign<f64> for Lanes<N> {
            #[inline(always)]
            fn $assign(&mut self, rhs: f64) {
                *self = *self $op rhs;
            }
        }
    };
}

lane_operator!(Add add, AddAssign add_assign, +);
lane_operator!(Sub sub, SubAssign sub_assign, -);
lane_operator!(Mul mul, MulAssign mul_assign, *);
lane_operator!(Div div, DivAssign div_assign, /);

impl<const N: usize> Neg for Lanes<N> {
    type Output = Lanes<N>;
    #[inline(always)]
    fn neg(self) -> Lanes<N> {
        self.each(|a| -a)
    }
}

/// Each rule lane by lane, through `f64`'s own version of it, so the two cannot drift apart.
impl<const N: usize> Field for Lanes<N> {
    #[inline(always)]
    fn constant(self, c: f64) -> Self {
        Lanes::splat(c)
    }
    #[inline(always)]
    fn rsub(self, c: f64) -> Self {
        self.each(|x| Field::rsub(x, c))
    }
    #[inline(always)]
    fn gate(self, by: Self) -> Self {
        self.zip(by, Field::gate)
    }
    #[inline(always)]
    fn mul_sgn(self, x: Self) -> Self {
        self.zip(x, Field::mul_sgn)
    }
    #[inline(always)]
    fn sin(self) -> Self {
        self.each(Field::sin)
    }
    #[inline(always)]
    fn cos(self) -> Self {
        self.each(Field::cos)
    }
    #[inline(always)]
    fn sinh(self) -> Self {
        self.each(Field::sinh)
    }
    #[inline(always)]
    fn cosh(self) -> Self {
        self.each(Field::cosh)
    }
    #[inline(always)]
    fn powf(self, e: f64) -> Self {
        self.each(|x| Field::powf(x, e))
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        self.each(|x| Field::powi(x, n))
    }
}

impl<const N: usize> Storage for Lanes<N> {
    /// All ones in a live lane, 0 elsewhere: bitwise operations, which vectorize.
    type Mask = [u64; N];
    const LANED: bool = true;

    #[inline(always)]
    fn map(self, f: impl Fn(f64) -> f64) -> Self {
        self.each(f)
    }
    #[inline(always)]
    fn zip_map(self, other: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        self.zip(other, f)
    }
    #[inline(always)]
    fn non_finite_bits(self) -> u64 {
        let mut bits = 0;
        for (l, x) in self.0.iter().enumerate() {
            bits |= u64::from(!x.is_finite()) << l;
        }
        bits
    }
    #[inline(always)]
    fn zero_bits(self) -> u64 {
        self.0.iter().fold(0, |acc, x| acc | (x.to_bits() << 1))
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self.zero_bits() == 0
    }
    #[inline(always)]
    fn live(g: Self, dirty: [u64; N]) -> Option<([u64; N], bool)> {
        // Comparisons, ors and ands over whole arrays, so each step vectorizes.
        let mut mask = dirty;
        for (m, x) in mask.iter_mut().zip(&g.0) {
            *m |= u64::from(*x != 0.0).wrapping_neg();
        }
        let any = mask.iter().fold(0, |a, &m| a | m);
        let all = mask.iter().fold(!0, |a, &m| a & m);
        (any != 0).then_some((mask, all != 0))
    }
    #[inline(always)]
    fn mask_of(bits: u64) -> [u64; N] {
        std::array::from_fn(|l| ((bits >> l) & 1).wrapping_neg())
    }
    #[inline(always)]
    fn both(mut a: [u64; N], b: [u64; N]) -> [u64; N] {
        for (a, b) in a.iter_mut().zip(b) {
            *a &= b;
        }
        a
    }
    #[inline(always)]
    fn masked(d: Self, mask: [u64; N]) -> Self {
        const NEG_ZERO: u64 = 1 << 63;
        let mut out = d.0;
        for (x, m) in out.iter_mut().zip(mask) {
            debug_assert!(
                m != 0 || *x == 0.0,
                "a skipped lane's contribution {x} is not 0"
            );
            // One `or` per lane, the sign bit hoisted out of a fused node's loop.
            *x = f64::from_bits(x.to_bits() | (NEG_ZERO & !m));
        }
        Lanes(out)
    }
    fn non_finite_lanes(values: &[Self]) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2, checked just above.
            return unsafe { non_finite_lanes_avx2(values) };
        }
        non_finite_lanes_of(values)
    }
}

/// [`non_finite_lanes_of`] compiled with AVX2: four `f64`s per instruction, and registers
/// enough for its sums.
///
/// # Safety
///
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn non_finite_lanes_avx2<const N: usize>(values: &[Lanes<N>]) -> u64 {
    non_finite_lanes_of(values)
}

/// Bit `l` set where some value's lane `l` is not finite.
#[inline(always)]
fn non_finite_lanes_of<const N: usize>(values: &[Lanes<N>]) -> u64 {
    // v·0 is ±0 for finite v and NaN otherwise. Four nodes' products are summed apart from
    // the running sum, so that it waits for one add per four nodes, not four (one add per
    // node ran at the add's latency, a few cycles per node). One running sum per lane stays in
    // registers on 16 lanes, where four per lane went through the stack at every add. No
    // early exit, so it all vectorizes.
    let mut acc = [0.0; N];
    let nodes = values.chunks_exact(4);
    let tail = nodes.remainder();
    for four in nodes {
        let [a, b, c, d] = [&four[0].0, &four[1].0, &four[2].0, &four[3].0];
        for l in 0..N {
            acc[l] += (a[l] * 0.0 + b[l] * 0.0) + (c[l] * 0.0 + d[l] * 0.0);
        }
    }
    for v in tail {
        for (a, x) in acc.iter_mut().zip(&v.0) {
            *a += x * 0.0;
        }
    }
    Lanes(acc).non_finite_bits()
}

impl<const N: usize> Number for Lanes<N> {
    const LANES: usize = {
        assert!(N >= 1 && N <= 64, "Lanes<N> needs 1 ≤ N ≤ 64");
        N
    };
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Lanes::splat(x)
    }
    #[track_caller]
    fn lane(self, i: usize) -> f64 {
        match self.0.get(i) {
            Some(&x) => x,
            None => panic!("tapegrad: lane {i} of a Lanes<{N}>"),
        }
    }
}
