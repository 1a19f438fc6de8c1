//! Numbers as the app prints them: readable at any magnitude on screen and in pictures, exact
//! in `metrics.csv`.

/// `x` with four decimals where that shows it (`0.0114`, `1.0000`), and in scientific
/// notation where fixed notation would print hundreds of digits or only zeros.
///
/// ```
/// use moons::numbers::readable;
///
/// assert_eq!(readable(0.01137), "0.0114");
/// assert_eq!(readable(0.0), "0.0000");
/// assert_eq!(readable(1e308), "1.000e308");
/// assert_eq!(readable(-2.5e-300), "-2.500e-300");
/// assert_eq!(readable(f64::NAN), "NaN");
/// ```
pub fn readable(x: f64) -> String {
    if !x.is_finite() || x == 0.0 || (1e-3..1e6).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// The shortest text that parses back to exactly `x` (Rust's `{}`), in scientific notation
/// when fixed notation would be long: `0.1`, `0.10899999999999987`, `1e308`, `1e-300`.
///
/// ```
/// use moons::numbers::exact;
///
/// for x in [0.1, 0.1 + 0.2, 1.0, 1e308, 1e-300, -3.25e20, 0.0] {
///     assert_eq!(exact(x).parse::<f64>().unwrap(), x);
/// }
/// assert_eq!(exact(1.0 - 0.9 * 99.0 / 100.0), "0.10899999999999987");
/// assert_eq!(exact(1e308), "1e308");
/// assert_eq!(exact(0.5), "0.5");
/// ```
pub fn exact(x: f64) -> String {
    if !x.is_finite() || x == 0.0 || (1e-5..1e16).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A short axis label: at most four decimals, trailing zeros dropped, and scientific notation
/// outside [0.001, 100 000).
///
/// ```
/// use moons::numbers::axis;
///
/// assert_eq!(axis(0.30000000000000004), "0.3");
/// assert_eq!(axis(100.0), "100");
/// assert_eq!(axis(1e14), "1e14");
/// assert_eq!(axis(2.5e-7), "2.5e-7");
/// assert_eq!(axis(0.0), "0");
/// ```
pub fn axis(x: f64) -> String {
    fn trim(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    if !x.is_finite() || x == 0.0 {
        return format!("{}", if x == 0.0 { 0.0 } else { x });
    }
    if (1e-3..1e5).contains(&x.abs()) {
        trim(&format!("{x:.4}")).to_string()
    } else {
        let s = format!("{x:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{exponent}", trim(mantissa))
    }
}

/// [`axis`] for every tick of an axis that spans `range`: when any tick of it would be in
/// scientific notation, all are, so that one axis does not mix `10000` and `1e14`.
///
/// ```
/// use moons::numbers::axis_in;
///
/// assert_eq!(axis_in(10000.0, (1.0, 1e14)), "1e4");
/// assert_eq!(axis_in(1.0, (1.0, 1e14)), "1e0");
/// assert_eq!(axis_in(10.0, (0.01, 3.0)), "10");
/// ```
pub fn axis_in(x: f64, range: (f64, f64)) -> String {
    let plain = |v: f64| v == 0.0 || (1e-3..1e5).contains(&v.abs());
    if plain(range.0) && plain(range.1) || x == 0.0 || !x.is_finite() {
        return axis(x);
    }
    let s = format!("{x:.2e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

/// `"1 step"`, `"2 steps"`: a count and its noun, singular for one.
///
/// ```
/// assert_eq!(moons::numbers::count(1, "step"), "1 step");
/// assert_eq!(moons::numbers::count(0, "step"), "0 steps");
/// ```
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A byte count in binary units with three significant digits: `512 B`, `1.50 KiB`,
/// `96.0 GiB`.
///
/// ```
/// assert_eq!(moons::numbers::bytes(512), "512 B");
/// assert_eq!(moons::numbers::bytes(8 << 30), "8.00 GiB");
/// assert_eq!(moons::numbers::bytes(u128::MAX), "2.95e20 EiB");
/// ```
pub fn bytes(n: u128) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    for unit in UNITS {
        if v < 1024.0 {
            return if unit == "B" {
                format!("{n} B")
            } else {
                format!("{} {unit}", three_digits(v))
            };
        }
        v /= 1024.0;
    }
    if v < 1000.0 {
        format!("{} EiB", three_digits(v))
    } else {
        format!("{v:.2e} EiB")
    }
}

fn three_digits(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}
