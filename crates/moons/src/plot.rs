//! SVG pictures drawn with plotters' SVG backend: the decision regions with the data points
//! (`boundary.svg`, micrograd's `contourf` plot) and the training curves (`loss.svg`).
//!
//! No font files are needed: without a font feature, plotters estimates text extents and
//! writes `<text>` elements that the SVG viewer renders with its own sans-serif font.

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use mlp::{Dataset, Mlp};

use crate::StepRow;

/// Width and height of both pictures, in pixels.
pub const SIZE: (u32, u32) = (720, 600);

/// Cells across the decision mesh for a small model (its rows follow from the plot's aspect
/// ratio).
pub const MESH_COLUMNS: usize = 180;

/// Cells across the mesh for the largest models: the regions stay recognisable.
pub const MIN_MESH_COLUMNS: usize = 32;

/// Multiply-adds the mesh may cost (cells × parameters): the demo's 337-parameter model gets
/// the full [`MESH_COLUMNS`], a larger model a coarser mesh, down to [`MIN_MESH_COLUMNS`].
pub const MESH_WORK: u128 = 20_000_000;

/// Work (cells × parameters) above which drawing may take more than a second, so the app
/// says what it is doing first.
pub const SLOW_WORK: u128 = 500_000_000;

/// Rows per column of the mesh, about the plot area's aspect ratio.
const MESH_ASPECT: f64 = 0.83;

/// Cells across the decision mesh for a model with `parameters` weights and biases: each
/// cell costs one evaluation, so the mesh shrinks as the model grows.
///
/// ```
/// use moons::plot::{mesh_columns, MESH_COLUMNS, MIN_MESH_COLUMNS};
///
/// assert_eq!(mesh_columns(337), MESH_COLUMNS);
/// assert_eq!(mesh_columns(100_000_000), MIN_MESH_COLUMNS);
/// let mid = mesh_columns(4_000_000);
/// assert!(MIN_MESH_COLUMNS <= mid && mid < MESH_COLUMNS);
/// ```
pub fn mesh_columns(parameters: usize) -> usize {
    let cells = MESH_WORK as f64 / parameters.max(1) as f64;
    let columns = (cells / MESH_ASPECT).sqrt().floor();
    (columns as usize).clamp(MIN_MESH_COLUMNS, MESH_COLUMNS)
}

/// Whether drawing the decision boundary of a model this size is long enough (more than
/// [`SLOW_WORK`]) to announce.
///
/// ```
/// assert!(!moons::plot::boundary_is_slow(337));
/// assert!(moons::plot::boundary_is_slow(4_000_000)); // --hidden 2000,2000
/// ```
pub fn boundary_is_slow(parameters: usize) -> bool {
    let columns = mesh_columns(parameters) as f64;
    let cells = (columns * columns * MESH_ASPECT) as u128;
    cells * parameters as u128 > SLOW_WORK
}

/// Region where the model scores below 0 (predicts −1): soft red.
pub const REGION_NEG: RGBColor = RGBColor(0xf9, 0xd3, 0xc4);
/// Region where the model scores above 0 (predicts +1): soft blue.
pub const REGION_POS: RGBColor = RGBColor(0xc9, 0xdf, 0xf0);
/// Points labeled −1.
pub const POINT_NEG: RGBColor = RGBColor(0xd7, 0x30, 0x27);
/// Points labeled +1.
pub const POINT_POS: RGBColor = RGBColor(0x2c, 0x6f, 0xbb);

const FONT: &str = "sans-serif";

/// A drawing failure, as text (plotters' error types are generic over the backend).
pub type PlotError = String;

fn err<E: std::fmt::Display>(e: E) -> PlotError {
    e.to_string()
}

/// The plotted window: `x` and `y` ranges in data units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Left and right edges.
    pub x: (f64, f64),
    /// Bottom and top edges.
    pub y: (f64, f64),
}

impl Bounds {
    /// The points' bounding box grown by `pad` on every side (micrograd pads by 1).
    ///
    /// ```
    /// let b = moons::plot::Bounds::around(&[vec![0.0, 1.0], vec![2.0, -1.0]], 0.5);
    /// assert_eq!((b.x, b.y), ((-0.5, 2.5), (-1.5, 1.5)));
    /// ```
    pub fn around(points: &[Vec<f64>], pad: f64) -> Bounds {
        let mut x = (f64::INFINITY, f64::NEG_INFINITY);
        let mut y = x;
        for p in points {
            x = (x.0.min(p[0]), x.1.max(p[0]));
            y = (y.0.min(p[1]), y.1.max(p[1]));
        }
        if !(x.0.is_finite() && x.1.is_finite() && y.0.is_finite() && y.1.is_finite()) {
            x = (0.0, 0.0);
            y = (0.0, 0.0);
        }
        Bounds {
            x: (x.0 - pad, x.1 + pad),
            y: (y.0 - pad, y.1 + pad),
        }
    }
}

/// One horizontal run of mesh cells that the model puts in the same class, drawn as one
/// rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// Left and right edges, data units.
    pub x: (f64, f64),
    /// Bottom and top edges, data units.
    pub y: (f64, f64),
    /// Whether the model's score is above 0 (class +1) at the cells' centers.
    pub positive: bool,
}

/// The decision regions on a `columns` × `rows` mesh over `bounds`: the model is evaluated
/// with [`Mlp::predict`] at each cell's center, and neighbouring cells of a row that get the
/// same sign are merged into one [`Run`]. Every row has at least one run and the runs of a
/// row tile it exactly.
///
/// ```
/// use moons::plot::{decision_runs, Bounds};
///
/// let model = mlp::Mlp::new(2, &[4, 1], 7);
/// let b = Bounds { x: (-1.0, 1.0), y: (-1.0, 1.0) };
/// let runs = decision_runs(&model, b, 20, 10);
/// assert!(runs.len() >= 10);
/// let row0: f64 = runs.iter().filter(|r| r.y.0 == -1.0).map(|r| r.x.1 - r.x.0).sum();
/// assert!((row0 - 2.0).abs() < 1e-12);
/// ```
pub fn decision_runs(model: &Mlp, bounds: Bounds, columns: usize, rows: usize) -> Vec<Run> {
    let (columns, rows) = (columns.max(1), rows.max(1));
    let dx = (bounds.x.1 - bounds.x.0) / columns as f64;
    let dy = (bounds.y.1 - bounds.y.0) / rows as f64;
    let x_at = |i: usize| {
        if i == columns {
            bounds.x.1
        } else {
            bounds.x.0 + i as f64 * dx
        }
    };
    // Edges from one formula, so neighbouring rows and runs share them exactly.
    let y_at = |j: usize| {
        if j == rows {
            bounds.y.1
        } else {
            bounds.y.0 + j as f64 * dy
        }
    };
    let mut runs = Vec::new();
    for j in 0..rows {
        let (y0, y1) = (y_at(j), y_at(j + 1));
        let yc = bounds.y.0 + (j as f64 + 0.5) * dy;
        let mut start = 0;
        let mut current = None;
        for i in 0..columns {
            let xc = bounds.x.0 + (i as f64 + 0.5) * dx;
            let positive = model.predict(&[xc, yc]).first().is_some_and(|s| *s > 0.0);
            match current {
                None => current = Some(positive),
                Some(c) if c != positive => {
                    runs.push(Run {
                        x: (x_at(start), x_at(i)),
                        y: (y0, y1),
                        positive: c,
                    });
                    start = i;
                    current = Some(positive);
                }
                Some(_) => {}
            }
        }
        runs.push(Run {
            x: (x_at(start), x_at(columns)),
            y: (y0, y1),
            positive: current.unwrap_or(false),
        });
    }
    runs
}

/// The most data points `boundary.svg` draws: past this, a deterministic, evenly spread
/// sample of them (see [`drawn_points`]), so that the file stays a few hundred kilobytes
/// whatever `--samples` is. The decision regions are computed the same way for any count.
///
/// ```
/// use moons::plot::{MAX_DRAWN_POINTS, drawn_points};
/// assert_eq!(MAX_DRAWN_POINTS, 2000);
/// assert_eq!(drawn_points(MAX_DRAWN_POINTS + 1).len(), MAX_DRAWN_POINTS);
/// ```
pub const MAX_DRAWN_POINTS: usize = 2000;

/// Which of `n` points the boundary picture draws: all of them up to [`MAX_DRAWN_POINTS`],
/// else the points at indices `⌊i·n / MAX_DRAWN_POINTS⌋`, evenly spread over the data (and
/// so over both moons, whatever order they come in).
///
/// ```
/// use moons::plot::{drawn_points, MAX_DRAWN_POINTS};
///
/// assert_eq!(drawn_points(5), vec![0, 1, 2, 3, 4]);
/// let sample = drawn_points(1_000_000);
/// assert_eq!(sample.len(), MAX_DRAWN_POINTS);
/// assert_eq!(&sample[..3], &[0, 500, 1000]);
/// ```
pub fn drawn_points(n: usize) -> Vec<usize> {
    if n <= MAX_DRAWN_POINTS {
        return (0..n).collect();
    }
    (0..MAX_DRAWN_POINTS)
        .map(|i| (i as u128 * n as u128 / MAX_DRAWN_POINTS as u128) as usize)
        .collect()
}

/// What [`boundary_svg`] drew, for callers and tests that check the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryPlot {
    /// The SVG document.
    pub svg: String,
    /// The plotted window.
    pub bounds: Bounds,
    /// The region rectangles, one `<rect>` each.
    pub runs: Vec<Run>,
    /// How many data points are drawn (at most [`MAX_DRAWN_POINTS`]).
    pub points_drawn: usize,
}

/// Height of the legend strip below the boundary plot, in pixels.
const LEGEND_HEIGHT: u32 = 64;

/// Draws micrograd's decision-boundary picture: the plane colored by the sign of the model's
/// score (soft red for −1, soft blue for +1) and the data points colored by their label
/// (at most [`MAX_DRAWN_POINTS`] of them; the legend says when it is a sample).
///
/// Each point is one filled `<circle>` plus a dark outline `<circle>`; each region run is
/// one `<rect>` filled with [`REGION_NEG`] or [`REGION_POS`]. The legend is a strip below
/// the plot, where it covers nothing.
///
/// ```
/// let data = mlp::datasets::two_moons(20, 0.1, 1);
/// let model = mlp::Mlp::new(2, &[8, 1], 1);
/// let plot = moons::plot::boundary_svg(&model, &data, "untrained").unwrap();
/// assert!(plot.svg.contains("<svg"));
/// assert!(plot.svg.contains("untrained"));
/// assert_eq!(plot.points_drawn, 20);
/// ```
pub fn boundary_svg(model: &Mlp, data: &Dataset, title: &str) -> Result<BoundaryPlot, PlotError> {
    let bounds = Bounds::around(&data.inputs, 0.6);
    let drawn = drawn_points(data.len());
    let mut svg = String::new();
    let runs;
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, strip) = root.split_vertically(SIZE.1 - LEGEND_HEIGHT);
        let mut chart = ChartBuilder::on(&top)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(48)
            .build_cartesian_2d(bounds.x.0..bounds.x.1, bounds.y.0..bounds.y.1)
            .map_err(err)?;

        // Square cells: as many rows as fit the plot area's aspect ratio.
        let (w, h) = chart.plotting_area().dim_in_pixel();
        let columns = mesh_columns(model.num_parameters());
        let rows = ((columns as f64) * f64::from(h) / f64::from(w.max(1))).round() as usize;
        runs = decision_runs(model, bounds, columns, rows.max(1));
        chart
            .draw_series(runs.iter().map(|r| {
                let color = if r.positive { REGION_POS } else { REGION_NEG };
                Rectangle::new([(r.x.0, r.y.1), (r.x.1, r.y.0)], color.filled())
            }))
            .map_err(err)?;

        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .x_desc("x₁")
            .y_desc("x₂")
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;

        for positive in [false, true] {
            let color = if positive { POINT_POS } else { POINT_NEG };
            let points = drawn
                .iter()
                .filter(|&&i| (data.labels[i] > 0.0) == positive)
                .map(|&i| (data.inputs[i][0], data.inputs[i][1]));
            chart
                .draw_series(points.map(|p| {
                    EmptyElement::at(p)
                        + Circle::new((0, 0), 5, color.filled())
                        + Circle::new((0, 0), 5, BLACK.mix(0.7).stroke_width(1))
                }))
                .map_err(err)?;
        }
        legend(&strip, drawn.len(), data.len())?;
        root.present().map_err(err)?;
    }
    Ok(BoundaryPlot {
        svg,
        bounds,
        runs,
        points_drawn: drawn.len(),
    })
}

/// The boundary plot's legend, in two columns below the plot, and a line on the sample when
/// not every point is drawn.
fn legend(
    strip: &DrawingArea<SVGBackend<'_>, Shift>,
    drawn: usize,
    total: usize,
) -> Result<(), PlotError> {
    let text = (FONT, 13).into_font();
    for (k, (name, color, is_region)) in [
        ("region the model labels −1", REGION_NEG, true),
        ("points labeled −1", POINT_NEG, false),
        ("region the model labels +1", REGION_POS, true),
        ("points labeled +1", POINT_POS, false),
    ]
    .into_iter()
    .enumerate()
    {
        let (x, y) = (70 + 300 * (k as i32 / 2), 8 + 20 * (k as i32 % 2));
        if is_region {
            strip
                .draw(&Rectangle::new(
                    [(x - 6, y - 6), (x + 6, y + 6)],
                    color.filled(),
                ))
                .map_err(err)?;
        } else {
            // The points' marker, as drawn on the plot.
            strip
                .draw(
                    &(EmptyElement::at((x, y))
                        + Circle::new((0, 0), 5, color.filled())
                        + Circle::new((0, 0), 5, BLACK.mix(0.7).stroke_width(1))),
                )
                .map_err(err)?;
        }
        strip
            .draw(&Text::new(name, (x + 14, y - 7), text.clone()))
            .map_err(err)?;
    }
    if drawn < total {
        let note =
            format!("{drawn} of {total} points drawn, evenly spread; regions from the model");
        strip.draw(&Text::new(note, (64, 48), text)).map_err(err)?;
    }
    Ok(())
}

/// Draws the training curves: the loss per step on top and the training accuracy per step
/// below, sharing the step axis. With no rows (evaluation only) both panels are empty and the
/// title says so.
///
/// ```
/// use moons::StepRow;
///
/// let rows: Vec<StepRow> = (0..5)
///     .map(|k| StepRow { step: k, loss: 1.0 / (k + 1) as f64, accuracy: 0.5 + 0.1 * k as f64, learning_rate: 1.0 })
///     .collect();
/// let svg = moons::plot::loss_svg(&rows, "five steps").unwrap();
/// assert_eq!(svg.matches("<polyline").count() >= 2, true);
/// ```
pub fn loss_svg(rows: &[StepRow], title: &str) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = if rows.is_empty() {
            "evaluation only: no training steps".to_string()
        } else {
            title.to_string()
        };
        let root = root.titled(&title, (FONT, 20)).map_err(err)?;
        let (top, bottom) = root.split_vertically(SIZE.1 / 2 - 10);

        let last_step = rows.last().map_or(1, |r| r.step.max(1));
        let losses = || rows.iter().map(|r| r.loss).filter(|l| l.is_finite());
        let max_loss = losses().fold(f64::NEG_INFINITY, f64::max);
        let min_loss = losses().fold(f64::INFINITY, f64::min);
        // A log scale shows both the first steps and the end of training, when it can.
        let log = min_loss > 0.0 && max_loss / min_loss > 20.0;
        let y = if log {
            (min_loss / 1.5, max_loss * 1.5)
        } else if max_loss > 0.0 {
            (0.0, max_loss * 1.05)
        } else {
            (0.0, 1.0)
        };
        Panel {
            y,
            log,
            y_desc: if log {
                "loss (max-margin + L2), log scale"
            } else {
                "loss (max-margin + L2)"
            },
            color: RGBColor(0xd7, 0x30, 0x27),
            name: "loss",
            x_desc: false,
        }
        .draw(&top, last_step, rows.iter().map(|r| (r.step, r.loss)))?;
        Panel {
            y: (0.0, 105.0),
            log: false,
            y_desc: "training accuracy (%)",
            color: RGBColor(0x2c, 0x6f, 0xbb),
            name: "accuracy",
            x_desc: true,
        }
        .draw(
            &bottom,
            last_step,
            rows.iter().map(|r| (r.step, 100.0 * r.accuracy)),
        )?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Draws what an evaluation measured (`eval-loss.svg`): the loss as a bar on top, and the
/// accuracy as a bar below with a line at `chance`, the accuracy of always answering the
/// larger class. Both values are written beside their bars.
///
/// ```
/// let svg = moons::plot::evaluation_svg(0.0114, 1.0, 0.5, "evaluated").unwrap();
/// assert!(svg.contains("loss 0.0114") && svg.contains("accuracy 100.0%"));
/// assert!(svg.contains("chance 50.0%"));
/// ```
pub fn evaluation_svg(
    loss: f64,
    accuracy: f64,
    chance: f64,
    title: &str,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, (FONT, 20)).map_err(err)?;
        let (top, bottom) = root.split_vertically(150);
        let loss_max = if loss.is_finite() && loss > 0.0 {
            loss * 1.25
        } else {
            1.0
        };
        bar(
            &top,
            "loss (max-margin + L2)",
            (loss, loss_max),
            RGBColor(0xd7, 0x30, 0x27),
            &format!("loss {}", crate::numbers::readable(loss)),
            None,
        )?;
        bar(
            &bottom,
            "accuracy (%)",
            (100.0 * accuracy, 100.0),
            RGBColor(0x2c, 0x6f, 0xbb),
            &format!("accuracy {:.1}%", 100.0 * accuracy),
            Some((100.0 * chance, format!("chance {:.1}%", 100.0 * chance))),
        )?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One horizontal bar of `value` on an axis from 0 to `max`, labeled, with an optional
/// marker line.
fn bar(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    x_desc: &str,
    (value, max): (f64, f64),
    color: RGBColor,
    label: &str,
    marker: Option<(f64, String)>,
) -> Result<(), PlotError> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(20)
        .build_cartesian_2d(0.0..max, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .x_desc(x_desc)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 12))
        .draw()
        .map_err(err)?;
    let end = if value.is_finite() {
        value.clamp(0.0, max)
    } else {
        max
    };
    chart
        .draw_series([Rectangle::new([(0.0, 0.2), (end, 0.6)], color.filled())])
        .map_err(err)?;
    chart
        .draw_series([Text::new(label.to_string(), (0.0, 0.92), (FONT, 15))])
        .map_err(err)?;
    if let Some((at, name)) = marker {
        chart
            .draw_series(LineSeries::new(
                [(at, 0.05), (at, 0.75)],
                BLACK.mix(0.7).stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series([Text::new(name, (at, 0.92), (FONT, 13))])
            .map_err(err)?;
    }
    Ok(())
}

/// One panel of [`loss_svg`]: a series against the step, on `[y_min, y_max]`, on a log
/// scale when `log` is set (then `y_min` must be above 0).
struct Panel {
    y: (f64, f64),
    log: bool,
    y_desc: &'static str,
    color: RGBColor,
    name: &'static str,
    x_desc: bool,
}

impl Panel {
    fn draw(
        self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        last_step: usize,
        series: impl Iterator<Item = (usize, f64)>,
    ) -> Result<(), PlotError> {
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(10)
            .margin_right(24)
            .x_label_area_size(if self.x_desc { 40 } else { 28 })
            .y_label_area_size(60);
        let x = 0f64..last_step as f64;
        let points: Vec<(f64, f64)> = series
            .filter(|(_, v)| v.is_finite() && (!self.log || *v > 0.0))
            .map(|(s, v)| (s as f64, v))
            .collect();
        if self.log {
            let chart = builder
                .build_cartesian_2d(x, (self.y.0..self.y.1).log_scale())
                .map_err(err)?;
            self.finish(chart, points, (last_step + 1).min(11))
        } else {
            let chart = builder
                .build_cartesian_2d(x, self.y.0..self.y.1)
                .map_err(err)?;
            self.finish(chart, points, (last_step + 1).min(11))
        }
    }

    fn finish<'a, 'b: 'a, Y>(
        self,
        mut chart: ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>,
        points: Vec<(f64, f64)>,
        x_labels: usize,
    ) -> Result<(), PlotError>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .y_desc(self.y_desc)
            .axis_desc_style((FONT, 15))
            .label_style((FONT, 12))
            .x_labels(x_labels)
            .x_label_formatter(&|v| format!("{v:.0}"));
        let range = self.y;
        let loss_label = move |v: &f64| crate::numbers::axis_in(*v, range);
        if self.name == "loss" {
            // Powers of ten and other ticks, readable from 1e-7 to 1e300, in one style.
            mesh.y_label_formatter(&loss_label);
        }
        if self.x_desc {
            mesh.x_desc("step");
        }
        mesh.draw().map_err(err)?;
        if points.is_empty() {
            return Ok(());
        }
        // No legend: the axis names the one series, and a legend box would cover it.
        chart
            .draw_series(LineSeries::new(points, self.color.stroke_width(2)))
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(losses: &[f64]) -> Vec<StepRow> {
        losses
            .iter()
            .enumerate()
            .map(|(step, &loss)| StepRow {
                step,
                loss,
                accuracy: 0.5,
                learning_rate: 1.0,
            })
            .collect()
    }

    fn curves(svg: &str) -> usize {
        svg.matches("<polyline").count()
    }

    #[test]
    fn loss_axis_is_logarithmic_only_for_a_wide_range() {
        let wide = loss_svg(&rows(&[3.0, 1.0, 0.1, 0.01]), "t").unwrap();
        assert!(wide.contains("log scale"));
        let narrow = loss_svg(&rows(&[1.0, 0.8, 0.5]), "t").unwrap();
        assert!(!narrow.contains("log scale"));
        // A zero loss cannot go on a log axis: linear, and still drawn.
        let zero = loss_svg(&rows(&[1.0, 0.0]), "t").unwrap();
        assert!(!zero.contains("log scale"));
        assert!(curves(&zero) > curves(&loss_svg(&[], "t").unwrap()));
    }

    #[test]
    fn no_rows_draws_empty_panels_and_says_so() {
        let svg = loss_svg(&[], "ignored").unwrap();
        assert!(svg.contains("evaluation only"));
        assert!(!svg.contains("stroke-width=\"2\""), "no curve expected");
    }

    #[test]
    fn mesh_runs_tile_each_row_and_follow_the_sign_of_the_score() {
        let model = Mlp::new(2, &[8, 1], 11);
        let b = Bounds {
            x: (-2.0, 3.0),
            y: (-1.5, 2.0),
        };
        let (columns, rows) = (50, 20);
        let runs = decision_runs(&model, b, columns, rows);
        let dx = 5.0 / columns as f64;
        // Runs come row by row, bottom to top.
        let by_row: Vec<&[Run]> = runs.chunk_by(|a, b| a.y == b.y).collect();
        assert_eq!(by_row.len(), rows);
        assert_eq!(by_row[0][0].y.0, b.y.0);
        assert_eq!(by_row[rows - 1][0].y.1, b.y.1);
        for (row, next) in by_row.iter().zip(by_row.iter().skip(1)) {
            assert_eq!(row[0].y.1, next[0].y.0);
        }
        for row in by_row {
            assert_eq!(row[0].x.0, b.x.0);
            assert_eq!(row.last().unwrap().x.1, b.x.1);
            for w in row.windows(2) {
                assert_eq!(w[0].x.1, w[1].x.0);
                assert_ne!(w[0].positive, w[1].positive);
            }
            for r in row {
                let xc = r.x.0 + dx / 2.0;
                let yc = (r.y.0 + r.y.1) / 2.0;
                let score = model.predict(&[xc, yc])[0];
                assert_eq!(score > 0.0, r.positive, "({xc}, {yc}) score {score}");
            }
        }
    }
}
