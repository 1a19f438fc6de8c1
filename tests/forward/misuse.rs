//! Misuse of forward mode: directions of the wrong length and Vars of another tape panic with
//! a message that names the problem, at the caller's line.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Once;

use tapegrad::{Tape, Var};

thread_local! {
    /// Set while [`panic_at`] runs on this thread: the hook records the location, quietly.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LOCATION: Cell<Option<(&'static str, u32)>> = const { Cell::new(None) };
}

/// Runs `f`, which must panic; returns its message and where it panicked (file, line).
/// Other threads' panics go to the hook that was installed before, unchanged.
fn panic_at(f: impl FnOnce()) -> (String, &'static str, u32) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.get() {
                // A location of a file in this test binary lives as long as the binary.
                let at = info.location().map(|l: &Location<'_>| {
                    let file: &'static str = Box::leak(l.file().to_owned().into_boxed_str());
                    (file, l.line())
                });
                LOCATION.set(at);
            } else {
                previous(info);
            }
        }));
    });
    CAPTURING.set(true);
    LOCATION.set(None);
    let err = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("should have panicked");
    CAPTURING.set(false);
    let text = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let (file, line) = LOCATION.take().expect("the hook saw the panic");
    (text, file, line)
}

/// Asserts that `f` panics in this file, within the few lines of the call that starts at
/// `line` (however it is formatted), with a message containing `message`.
#[track_caller]
fn panics_here(line: u32, message: &str, f: impl FnOnce()) {
    let (text, file, at) = panic_at(f);
    assert!(
        text.contains(message),
        "{text:?} does not contain {message:?}"
    );
    assert!(
        file == file!() && (line..line + 5).contains(&at),
        "{text:?} was reported at {file}:{at}, not at the call on line {line} of {}",
        file!()
    );
}

fn product<'t>(_: &'t Tape, v: &[Var<'t>]) -> Var<'t> {
    v[0] * v[v.len() - 1]
}

#[test]
fn directions_of_another_length_panic_naming_both_lengths_at_the_callers_line() {
    let f = product;
    let (p, v3) = ([1.0, 2.0], [1.0, 0.0, 0.0]);
    panics_here(line!(), "a point of 2 and v of 3", || {
        let _ = tapegrad::jvp(f, &p, &v3);
    });
    panics_here(line!(), "a point of 2 and v of 1", || {
        let _ = tapegrad::hvp(f, &p, &[1.0]);
    });
    let tape = Tape::new();
    let x = tape.vars(&p);
    let y = x[0] * x[1];
    panics_here(
        line!(),
        "Var::jvp needs one direction entry per variable, got 2 variables and 3",
        || {
            let _ = y.jvp(&x, &v3);
        },
    );
    panics_here(
        line!(),
        "Var::hvp needs one direction entry per variable, got 1 variables and 2",
        || {
            let _ = y.hvp(&x[..1], &p);
        },
    );
    panics_here(
        line!(),
        "Tape::jvp needs one direction entry per variable, got 2 variables and 0",
        || {
            let _ = tape.jvp(&[y, y], &x, &[]);
        },
    );
    assert_eq!(tape.len(), 3, "nothing recorded by the failed calls");
}

/// A tape that outlives every closure: a closure handed to `hessian` and friends can return
/// one of its Vars, which is the misuse checked here.
fn stranger() -> Var<'static> {
    let tape: &'static Tape = Box::leak(Box::new(Tape::new()));
    tape.var(1.0)
}

#[test]
fn a_closure_returning_a_var_of_another_tape_panics_at_the_callers_line() {
    let s = stranger();
    let ours = product;
    let what =
        |f: &str| format!("{f} (as the closure's result) was given a Var recorded on another tape");
    panics_here(line!(), &what("tapegrad::hessian"), || {
        let _ = tapegrad::hessian(|_, _| s, &[1.0]);
    });
    panics_here(line!(), &what("tapegrad::hvp"), || {
        let _ = tapegrad::hvp(|_, _| s, &[1.0], &[1.0]);
    });
    panics_here(line!(), &what("tapegrad::jvp"), || {
        let _ = tapegrad::jvp(|_, _| s, &[1.0], &[1.0]);
    });
    panics_here(line!(), &what("tapegrad::jacobian"), || {
        let _ = tapegrad::jacobian(|t, v| vec![ours(t, v), s], &[1.0]);
    });
    // And after a caught panic the functions work again (they keep a tape per thread).
    assert_eq!(tapegrad::hessian(ours, &[3.0]), vec![vec![2.0]]);
    assert_eq!(tapegrad::jvp(ours, &[3.0], &[1.0]), (9.0, 6.0));
}

#[test]
fn a_var_of_another_tape_in_the_methods_panics_at_the_callers_line() {
    let s = stranger();
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0]);
    let y = x[0] * x[1];
    let foreign = "was given a Var recorded on another tape";
    panics_here(line!(), foreign, || {
        let _ = y.jvp(&[x[0], s], &[1.0, 1.0]);
    });
    panics_here(line!(), foreign, || {
        let _ = y.hvp(&[s], &[1.0]);
    });
    panics_here(line!(), foreign, || {
        let _ = y.hessian(&[x[1], s]);
    });
    panics_here(line!(), foreign, || {
        let _ = tape.jacobian(&[y, s], &x);
    });
    panics_here(line!(), foreign, || {
        let _ = tape.jacobian(&[y], &[s]);
    });
    panics_here(line!(), foreign, || {
        let _ = tape.jvp(&[s], &x, &[1.0, 1.0]);
    });
    assert_eq!(tape.len(), 3);
}
