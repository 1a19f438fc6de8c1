//! [`Var::grad`]: the reverse sweep recorded on the tape, so gradients are nodes that can be
//! differentiated again.

use smallvec::SmallVec;

use crate::arena::{Refused, Tape};
use crate::op::Adjoints;
use crate::var::Var;

impl<'t> Var<'t> {
    /// The gradients of this node with respect to `wrt`, recorded on the tape as ordinary
    /// nodes: what PyTorch's `torch.autograd.grad(y, wrt, create_graph=True)` returns.
    ///
    /// **Looking for micrograd's `x.grad`?** First-order gradients come from
    /// [`Var::backward`], as numbers: `let g = loss.backward(); g[x]`. This method is for
    /// gradients you differentiate again.
    ///
    /// It runs the same reverse sweep as [`Var::backward`], with every local derivative
    /// recorded instead of computed, so the results can be used in any expression,
    /// differentiated again with `grad` (to any order) or with `backward`. Second derivatives
    /// follow PyTorch's double backward: `relu''` and `abs''` are 0 (their masks are
    /// constants), `powf` and `powi` differentiate `e·xᵉ⁻¹` by their own rule (so `x²` has
    /// second derivative 2 at 0, `x³` has 0), and `tanh` and `sigmoid` differentiate through
    /// their outputs.
    ///
    /// An entry of `wrt` that this node does not depend on gets a new node of value 0.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.var(3.0);
    /// let y = tape.var(2.0);
    /// let f = x * x * y; // f = x²y
    /// let [dx, dy] = f.grad(&[x, y])[..] else { unreachable!() };
    /// assert_eq!((dx.value(), dy.value()), (12.0, 9.0)); // 2xy, x²
    /// let g = dx.backward(); // the row of the Hessian for x
    /// assert_eq!((g[x], g[y]), (4.0, 6.0)); // 2y, 2x
    /// let d3 = dx.grad(&[x])[0].grad(&[y])[0]; // ∂³f/∂x²∂y = 2
    /// assert_eq!(d3.value(), 2.0);
    /// ```
    ///
    /// The values equal [`Var::backward`]'s gradients bit for bit (the same operations run in
    /// the same order), with two exceptions: an exactly-zero gradient may be −0 here where
    /// `backward`, which accumulates from +0, gives +0; and a node that receives four or more
    /// products from fused nodes ([`Tape::dot`], [`Tape::dot_run`], [`Tape::affine`],
    /// [`Tape::neuron`]: a layer's input, or a weight shared by a batch) gets them as one
    /// `dot` node, whose four partial sums ([`dot_value`](crate::dot_value)) may round the
    /// last bit differently from `backward`'s running sum.
    ///
    /// # Cost
    ///
    /// The recorded sweep adds nodes after the root, and the tape keeps them until
    /// [`Tape::clear`]: for a binary operation, one or two (its local derivatives, and a `sum`
    /// where a node is used more than once); for a fused node, one `dot` per operand that
    /// collects every product it receives, plus a node or two for the activation's slope.
    ///
    /// # Panics
    ///
    /// If an entry of `wrt` belongs to another tape, or the tape fills up.
    #[track_caller]
    #[must_use = "grad returns the gradients as new nodes; nothing is stored on the Var"]
    pub fn grad(self, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
        let tape = self.tape();
        for v in wrt {
            tape.check(v, "Var::grad");
        }
        let root = self.index();
        // The side list is copied once: recording the sums below may grow it.
        let operands = tape.with(|t| t.operands().to_vec());
        // Only nodes on a path to some entry of `wrt` need an adjoint: a node feeds one if it
        // is one or an operand of it does (operands come first, so one forward pass).
        let feeds = tape.with(|t| {
            let mut feeds = vec![false; root + 1];
            for v in wrt {
                if let Some(f) = feeds.get_mut(v.index()) {
                    *f = true;
                }
            }
            let (_, ops, operands) = t.nodes(root);
            for (i, op) in ops.iter().enumerate() {
                if !feeds[i] {
                    let mut any = false;
                    op.for_each_operand(operands, |k| any |= feeds[k as usize]);
                    feeds[i] = any;
                }
            }
            feeds
        });
        let mut rec = Recorder {
            tape,
            parts: vec![SmallVec::new(); root + 1],
            feeds,
        };
        // u32::MAX: no adjoint (no node has that id).
        let mut adjoint: Vec<u32> = vec![u32::MAX; root + 1];
        rec.parts[root].push(Part::Node(tape.var(1.0).id32()));
        for i in (0..=root).rev() {
            if !rec.feeds[i] {
                continue;
            }
            let parts = std::mem::take(&mut rec.parts[i]);
            let Some(g) = rec.adjoint(&parts) else {
                continue;
            };
            adjoint[i] = g.id32();
            let op = tape
                .with(|t| t.op(i as u32))
                .unwrap_or_else(|| Refused::BadOperand.panic());
            let y = Var::new(tape, i as u32, tape.value_of(i as u32));
            // SAFETY: `Tape::push` checked that node i's operands are nodes below i ≤ root,
            // and `operands` is the side list it checked them against.
            unsafe { op.backward(g, y, &operands, &mut rec) };
        }
        wrt.iter()
            .map(|v| match adjoint.get(v.index()) {
                Some(&g) if g != u32::MAX => rec.var(g),
                _ => tape.var(0.0),
            })
            .collect()
    }
}

/// One contribution to a recorded adjoint.
#[derive(Clone, Copy)]
enum Part {
    /// A recorded node.
    Node(u32),
    /// `g·other` from a fused node, not yet recorded: the products a node receives become one
    /// `dot` node, where a `*` per product and a `sum` would take one more node each.
    Product(u32, u32),
}

/// The recorded sweep's adjoints: for each node, its contributions so far.
struct Recorder<'t> {
    tape: &'t Tape,
    parts: Vec<SmallVec<[Part; 2]>>,
    /// Whether each node is on a path to an entry of `wrt`: the others get no contributions.
    feeds: Vec<bool>,
}

impl<'t> Recorder<'t> {
    /// Node `id` as a `Var` (parts keep ids: 12 bytes where two `Var`s take 48).
    fn var(&self, id: u32) -> Var<'t> {
        Var::new(self.tape, id, self.tape.value_of(id))
    }

    /// A node's adjoint from its contributions, which come in the order `backward` adds them:
    /// one node, a product, one `dot` of the products, or a `sum`.
    #[track_caller]
    fn adjoint(&self, parts: &[Part]) -> Option<Var<'t>> {
        let v = |id: u32| self.var(id);
        let products = || {
            parts.iter().filter_map(|p| match *p {
                Part::Product(g, other) => Some((v(g), v(other))),
                Part::Node(_) => None,
            })
        };
        Some(match *parts {
            [] => return None,
            [Part::Node(g)] => v(g),
            [Part::Product(g, other)] => v(g) * v(other),
            _ if products().count() == parts.len() => {
                let (gs, others): (Vec<_>, Vec<_>) = products().unzip();
                self.tape.dot(&gs, &others)
            }
            _ => {
                let nodes: SmallVec<[Var<'t>; 4]> = parts
                    .iter()
                    .map(|p| match *p {
                        Part::Node(g) => v(g),
                        Part::Product(g, other) => v(g) * v(other),
                    })
                    .collect();
                self.tape.sum(&nodes)
            }
        })
    }
}

/// Every id is an operand of a node at most the root, so all indexing here is in bounds; it is
/// checked all the same (these methods record nodes, which costs far more).
impl<'t> Adjoints<Var<'t>> for Recorder<'t> {
    #[inline]
    fn needs(&self, k: u32) -> bool {
        // Nodes that feed no entry of `wrt` get no adjoint: recording their part of a rule
        // would only leave dead nodes on the tape.
        self.feeds[k as usize]
    }

    #[inline]
    unsafe fn value(&self, k: u32) -> Var<'t> {
        Var::new(self.tape, k, self.tape.value_of(k))
    }

    #[inline]
    unsafe fn add(&mut self, k: u32, d: Var<'t>) {
        if self.feeds[k as usize] {
            self.parts[k as usize].push(Part::Node(d.id32()));
        }
    }

    #[inline]
    unsafe fn add_product(&mut self, k: u32, g: Var<'t>, other: Var<'t>) {
        if self.feeds[k as usize] {
            self.parts[k as usize].push(Part::Product(g.id32(), other.id32()));
        }
    }
}
