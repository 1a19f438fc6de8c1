use std::fmt;
use std::panic::Location;

/// Where a non-finite number was found by [`Var::backward_checked`](crate::Var::backward_checked).
///
/// ```
/// let mut tape = tapegrad::Tape::new();
/// tape.set_detect_anomaly(true);
/// let x = tape.var(0.0).with_label("x");
/// let y = (x / x).with_label("ratio");
/// let err = y.backward_checked().unwrap_err();
/// assert!(matches!(err.kind, tapegrad::AnomalyKind::Value { .. }));
/// assert_eq!(err.node.label.as_deref(), Some("ratio"));
/// assert_eq!(err.node.location.unwrap().file(), file!());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// What was wrong.
    pub kind: AnomalyKind,
    /// The node that produced the non-finite number.
    pub node: NodeInfo,
    /// On a lane tape (`Tape<Lanes<N>>`), the first lane where the number is not finite (the
    /// numbers in `kind` are that lane's); `None` on a `Tape<f64>`.
    pub lane: Option<usize>,
}

impl Anomaly {
    /// The first lane in which the number is not finite, on a lane tape; `None` on a
    /// `Tape<f64>`.
    ///
    /// ```
    /// use tapegrad::{Lanes, Tape};
    ///
    /// let tape = Tape::<Lanes<4>>::new();
    /// let x = tape.var(Lanes::new([1.0, 2.0, -1.0, 3.0]));
    /// let err = x.ln().backward_checked().unwrap_err(); // ln(-1) in lane 2
    /// assert_eq!(err.lane(), Some(2));
    /// assert!(err.to_string().contains("lane 2"));
    /// assert_eq!(Tape::new().var(-1.0).ln().backward_checked().unwrap_err().lane(), None);
    /// ```
    pub fn lane(&self) -> Option<usize> {
        self.lane
    }
}

/// The two ways a backward pass can meet a non-finite number.
///
/// ```
/// use tapegrad::{AnomalyKind, Tape};
///
/// let tape = Tape::new();
/// let x = tape.var(0.0);
/// let err = x.sqrt().backward_checked().unwrap_err(); // sqrt(0) is fine, its slope is not
/// assert_eq!(err.kind, AnomalyKind::Gradient { operand: 0, gradient: f64::INFINITY });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum AnomalyKind {
    /// The node's value is NaN or infinite (the first such node, in recording order).
    Value {
        /// The value.
        value: f64,
    },
    /// The node's backward gave an operand a non-finite gradient (the first in the sweep).
    Gradient {
        /// The id of the operand whose gradient became non-finite.
        operand: usize,
        /// Its gradient after this node's contribution.
        gradient: f64,
    },
}

/// A description of one node, for error messages.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let x = tape.var(-1.0).with_label("x");
/// let err = x.ln().with_label("log x").backward_checked().unwrap_err();
/// assert_eq!((err.node.id, err.node.op.as_str()), (1, "ln"));
/// assert_eq!(err.node.label.as_deref(), Some("log x"));
/// assert!(err.node.location.is_none()); // anomaly detection was off
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// The node's id ([`Var::index`](crate::Var::index)).
    pub id: usize,
    /// Its operation, as `"ln"`, `"*"`, `"+ 1"`, `"dot"`, `"leaf"`, ….
    pub op: String,
    /// The label set with [`Var::with_label`](crate::Var::with_label).
    pub label: Option<String>,
    /// Where it was recorded, when [`Tape::set_detect_anomaly`](crate::Tape::set_detect_anomaly)
    /// was on.
    pub location: Option<&'static Location<'static>>,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node #{} `{}`", self.id, self.op)?;
        if let Some(label) = &self.label {
            write!(f, " ({label:?})")?;
        }
        match self.location {
            Some(loc) => write!(f, " recorded at {loc}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AnomalyKind::Value { value } => {
                write!(f, "non-finite value {value} at {}", self.node)?;
            }
            AnomalyKind::Gradient { operand, gradient } => write!(
                f,
                "the backward of {} gave its operand node #{operand} a non-finite gradient {gradient}",
                self.node
            )?,
        }
        if let Some(lane) = self.lane {
            write!(f, ", in lane {lane}")?;
        }
        if self.node.location.is_none() {
            write!(
                f,
                " (turn on Tape::set_detect_anomaly to see where it was recorded)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Anomaly {}
