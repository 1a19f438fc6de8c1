//! The SVG drawing of a laid-out DOT graph: a `layout-rs` render backend that writes the text
//! in the font the DOT asks for, sizes the picture to what is drawn, and starts and ends the
//! edges on the sides of the boxes the layout flows through.

use std::fmt::Write;

use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::gv::parser::ast;

/// Average advance of a character, in font sizes, of the fonts the DOT may ask for. The
/// layout measures a label as one font size per character, so it is given the font size
/// times this to size the boxes for the font the text is drawn in.
fn char_width(font: &str) -> f64 {
    let f = font.to_ascii_lowercase();
    if f.contains("courier") || f.contains("mono") {
        0.6
    } else if f.contains("times") || f.contains("serif") && !f.contains("sans") {
        0.5
    } else {
        0.56
    }
}

/// The CSS font list for a DOT `fontname`, with a generic family to fall back on.
fn css_font(font: &str) -> String {
    let f = font.to_ascii_lowercase();
    let generic = if f.contains("courier") || f.contains("mono") {
        "monospace"
    } else if f.contains("times") || f.contains("serif") && !f.contains("sans") {
        "serif"
    } else {
        "sans-serif"
    };
    let family = font.split('-').next().unwrap_or(font);
    let family: String = family
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .collect();
    if family.eq_ignore_ascii_case("helvetica") {
        "Helvetica, Arial, sans-serif".to_string()
    } else {
        format!("{family}, {generic}")
    }
}

/// The font and layout settings a DOT graph asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// `fontname` (Graphviz's default is Times-Roman).
    pub font: String,
    /// `fontsize` in pixels (Graphviz's default is 14).
    pub font_size: f64,
    /// `rankdir=LR` or `RL`: the graph flows sideways.
    pub sideways: bool,
}

impl Settings {
    /// Reads the settings from the graph's attribute statements, and rewrites every
    /// `fontsize` so that the layout sizes the boxes for the font's real character width.
    pub(crate) fn adapt(graph: &mut ast::Graph) -> Settings {
        let mut settings = Settings {
            font: "Times-Roman".to_string(),
            font_size: 14.0,
            sideways: false,
        };
        let mut visit = |list: &ast::AttributeList| {
            for (key, value) in list.iter() {
                match key.as_str() {
                    "fontname" => settings.font = value.clone(),
                    "fontsize" => {
                        if let Ok(v) = value.parse::<f64>()
                            && v.is_finite()
                            && v > 0.0
                        {
                            settings.font_size = v;
                        }
                    }
                    "rankdir" => settings.sideways = matches!(value.as_str(), "LR" | "RL"),
                    _ => {}
                }
            }
        };
        for stmt in &graph.list.list {
            match stmt {
                ast::Stmt::Attribute(a) => visit(&a.list),
                ast::Stmt::Node(n) => visit(&n.list),
                _ => {}
            }
        }
        let scale = char_width(&settings.font);
        let layout_size = |size: f64| ((size * scale).round().max(1.0) as usize).to_string();
        let rewrite = |list: &mut ast::AttributeList| {
            for (key, value) in list.list.iter_mut() {
                if key == "fontsize"
                    && let Ok(v) = value.parse::<f64>()
                {
                    *value = layout_size(v);
                }
            }
        };
        for stmt in graph.list.list.iter_mut() {
            match stmt {
                ast::Stmt::Attribute(a) => rewrite(&mut a.list),
                ast::Stmt::Node(n) => rewrite(&mut n.list),
                ast::Stmt::Edge(e) => rewrite(&mut e.list),
                ast::Stmt::SubGraph(_) => {}
            }
        }
        let mut default = ast::AttributeList::new();
        default.add_attr("fontsize", &layout_size(settings.font_size));
        graph.list.list.insert(
            0,
            ast::Stmt::Attribute(ast::AttrStmt::new(ast::AttrStmtTarget::Node, default)),
        );
        settings
    }
}

#[derive(Debug, Clone)]
enum Shape {
    Rect {
        at: Point,
        size: Point,
        fill: Option<String>,
        stroke: String,
        width: usize,
        rounded: usize,
    },
    Ellipse {
        center: Point,
        size: Point,
        fill: Option<String>,
        stroke: String,
        width: usize,
    },
    Line {
        from: Point,
        to: Point,
        stroke: String,
        width: usize,
    },
    Text {
        at: Point,
        text: String,
        size: f64,
    },
    Arrow {
        path: Vec<(Point, Point)>,
        dashed: bool,
        head: (bool, bool),
        stroke: String,
        width: usize,
        label: String,
    },
}

/// Collects what `layout-rs` draws; [`Canvas::finish`] writes the SVG.
#[derive(Debug)]
pub(crate) struct Canvas {
    settings: Settings,
    shapes: Vec<Shape>,
}

fn color(c: &layout::core::color::Color) -> String {
    // Colors are `#rrggbbaa`; SVG 1.1 viewers want `#rrggbb` (the alpha is always opaque here).
    let web = c.to_web_color();
    web.get(..7).unwrap_or(&web).to_string()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The box a point lies on or in: the largest rectangle or ellipse around it.
fn outline_at(shapes: &[Shape], p: Point) -> Option<(Point, Point, bool)> {
    const SLACK: f64 = 1.5;
    let mut best: Option<(Point, Point, bool)> = None;
    for s in shapes {
        let (center, size, round) = match s {
            Shape::Rect { at, size, .. } => (
                Point::new(at.x + size.x / 2.0, at.y + size.y / 2.0),
                *size,
                false,
            ),
            Shape::Ellipse { center, size, .. } => (*center, *size, true),
            _ => continue,
        };
        let (dx, dy) = ((p.x - center.x).abs(), (p.y - center.y).abs());
        let inside = if round {
            let (rx, ry) = (size.x / 2.0 + SLACK, size.y / 2.0 + SLACK);
            (dx / rx).powi(2) + (dy / ry).powi(2) <= 1.0
        } else {
            dx <= size.x / 2.0 + SLACK && dy <= size.y / 2.0 + SLACK
        };
        if inside && best.is_none_or(|(_, b, _)| size.x * size.y > b.x * b.y) {
            best = Some((center, size, round));
        }
    }
    best
}

impl Canvas {
    pub(crate) fn new(settings: Settings) -> Canvas {
        Canvas {
            settings,
            shapes: Vec::new(),
        }
    }

    /// Moves each edge's ends to the middle of the side of its boxes that faces the flow
    /// (right side out and left side in for a sideways graph, bottom out and top in
    /// otherwise), keeping the length of the curve's end tangents.
    fn attach_edges(&mut self) {
        let outlines: Vec<Shape> = self
            .shapes
            .iter()
            .filter(|s| matches!(s, Shape::Rect { .. } | Shape::Ellipse { .. }))
            .cloned()
            .collect();
        let sideways = self.settings.sideways;
        let side = |center: Point, size: Point, out: bool| {
            let sign = if out { 1.0 } else { -1.0 };
            if sideways {
                Point::new(center.x + sign * size.x / 2.0, center.y)
            } else {
                Point::new(center.x, center.y + sign * size.y / 2.0)
            }
        };
        let along = |p: Point, len: f64| {
            if sideways {
                Point::new(p.x + len, p.y)
            } else {
                Point::new(p.x, p.y + len)
            }
        };
        for shape in self.shapes.iter_mut() {
            let Shape::Arrow { path, .. } = shape else {
                continue;
            };
            if path.len() < 2 {
                continue;
            }
            let (start, control) = path[0];
            if let Some((c, s, _)) = outline_at(&outlines, start) {
                let new = side(c, s, true);
                let len = start.distance_to(control).max(10.0);
                path[0] = (new, along(new, len));
            }
            let last = path.len() - 1;
            let (control, end) = path[last];
            if let Some((c, s, _)) = outline_at(&outlines, end) {
                let new = side(c, s, false);
                let len = end.distance_to(control).max(10.0);
                path[last] = (along(new, -len), new);
            }
        }
    }

    /// The box around everything drawn: (min, max).
    fn extent(&self) -> (Point, Point) {
        let mut min = Point::new(f64::INFINITY, f64::INFINITY);
        let mut max = Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
        let mut grow = |p: Point| {
            min = Point::new(min.x.min(p.x), min.y.min(p.y));
            max = Point::new(max.x.max(p.x), max.y.max(p.y));
        };
        let cw = char_width(&self.settings.font);
        for s in &self.shapes {
            match s {
                Shape::Rect { at, size, .. } => {
                    grow(*at);
                    grow(Point::new(at.x + size.x, at.y + size.y));
                }
                Shape::Ellipse { center, size, .. } => {
                    grow(Point::new(center.x - size.x / 2.0, center.y - size.y / 2.0));
                    grow(Point::new(center.x + size.x / 2.0, center.y + size.y / 2.0));
                }
                Shape::Line { from, to, .. } => {
                    grow(*from);
                    grow(*to);
                }
                Shape::Text { at, text, size } => {
                    let lines = text.lines().count().max(1) as f64;
                    let chars = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
                    let half = Point::new(chars as f64 * cw * size / 2.0, lines * size / 2.0);
                    grow(Point::new(at.x - half.x, at.y - half.y));
                    grow(Point::new(at.x + half.x, at.y + half.y));
                }
                Shape::Arrow { path, .. } => {
                    for (a, b) in path {
                        grow(*a);
                        grow(*b);
                    }
                }
            }
        }
        if !min.x.is_finite() {
            return (Point::zero(), Point::zero());
        }
        (min, max)
    }

    /// The SVG document: the drawing moved to a margin of 8 px, the picture sized to it.
    pub(crate) fn finish(mut self) -> String {
        const MARGIN: f64 = 8.0;
        self.attach_edges();
        let (min, max) = self.extent();
        let (w, h) = (
            (max.x - min.x + 2.0 * MARGIN).ceil(),
            (max.y - min.y + 2.0 * MARGIN).ceil(),
        );
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">"
        );
        let _ = writeln!(
            out,
            "<defs><marker id=\"head\" markerWidth=\"10\" markerHeight=\"7\" refX=\"10\" refY=\"3.5\" orient=\"auto-start-reverse\"><polygon points=\"0 0, 10 3.5, 0 7\"/></marker></defs>"
        );
        let _ = writeln!(
            out,
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<g transform=\"translate({} {})\" font-family=\"{}\">",
            MARGIN - min.x,
            MARGIN - min.y,
            escape(&css_font(&self.settings.font))
        );
        for s in &self.shapes {
            write_shape(&mut out, s);
        }
        out.push_str("</g>\n</svg>\n");
        out
    }
}

fn write_shape(out: &mut String, s: &Shape) {
    let fill = |f: &Option<String>| f.clone().unwrap_or_else(|| "none".to_string());
    let _ = match s {
        Shape::Rect {
            at,
            size,
            fill: f,
            stroke,
            width,
            rounded,
        } => writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{rounded}\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
            at.x,
            at.y,
            size.x,
            size.y,
            fill(f)
        ),
        Shape::Ellipse {
            center,
            size,
            fill: f,
            stroke,
            width,
        } => writeln!(
            out,
            "<ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
            center.x,
            center.y,
            size.x / 2.0,
            size.y / 2.0,
            fill(f)
        ),
        Shape::Line {
            from,
            to,
            stroke,
            width,
        } => writeln!(
            out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
            from.x, from.y, to.x, to.y
        ),
        Shape::Text { at, text, size } => {
            let lines: Vec<&str> = text.lines().collect();
            // Baselines placed by hand: viewers differ on `dominant-baseline` in a tspan. A
            // line's middle is about 0.35 em above its baseline.
            let first = at.y - (lines.len().max(1) - 1) as f64 * size / 2.0 + 0.35 * size;
            let mut spans = String::new();
            for (i, line) in lines.iter().enumerate() {
                let _ = write!(
                    spans,
                    "<tspan x=\"{}\" y=\"{}\">{}</tspan>",
                    at.x,
                    first + i as f64 * size,
                    escape(line)
                );
            }
            writeln!(
                out,
                "<text font-size=\"{size}\" text-anchor=\"middle\">{spans}</text>"
            )
        }
        Shape::Arrow {
            path,
            dashed,
            head,
            stroke,
            width,
            label,
        } => {
            let mut d = format!(
                "M {} {} C {} {}, {} {}, {} {}",
                path[0].0.x,
                path[0].0.y,
                path[0].1.x,
                path[0].1.y,
                path[1].0.x,
                path[1].0.y,
                path[1].1.x,
                path[1].1.y
            );
            for (c, p) in path.iter().skip(2) {
                let _ = write!(d, " S {} {}, {} {}", c.x, c.y, p.x, p.y);
            }
            let dash = if *dashed {
                " stroke-dasharray=\"5,5\""
            } else {
                ""
            };
            let start = if head.0 {
                " marker-start=\"url(#head)\""
            } else {
                ""
            };
            let end = if head.1 {
                " marker-end=\"url(#head)\""
            } else {
                ""
            };
            let r = writeln!(
                out,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}{start}{end}/>"
            );
            if !label.is_empty() {
                let mid = path[path.len() / 2].1;
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    mid.x,
                    mid.y,
                    escape(label)
                );
            }
            r
        }
    };
}

impl RenderBackend for Canvas {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        _properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        self.shapes.push(Shape::Rect {
            at: xy,
            size,
            fill: look.fill_color.as_ref().map(color),
            stroke: color(&look.line_color),
            width: look.line_width,
            rounded: look.rounded,
        });
    }

    fn draw_line(&mut self, start: Point, stop: Point, look: &StyleAttr, _p: Option<String>) {
        self.shapes.push(Shape::Line {
            from: start,
            to: stop,
            stroke: color(&look.line_color),
            width: look.line_width,
        });
    }

    fn draw_circle(&mut self, xy: Point, size: Point, look: &StyleAttr, _p: Option<String>) {
        self.shapes.push(Shape::Ellipse {
            center: xy,
            size,
            fill: look.fill_color.as_ref().map(color),
            stroke: color(&look.line_color),
            width: look.line_width,
        });
    }

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        // The layout was given the font size times the character width; undo that.
        let size = (look.font_size as f64 / char_width(&self.settings.font)).round();
        self.shapes.push(Shape::Text {
            at: xy,
            text: text.to_string(),
            size,
        });
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        dashed: bool,
        head: (bool, bool),
        look: &StyleAttr,
        _p: Option<String>,
        text: &str,
    ) {
        if path.len() < 2 {
            return;
        }
        self.shapes.push(Shape::Arrow {
            path: path.to_vec(),
            dashed,
            head,
            stroke: color(&look.line_color),
            width: look.line_width,
            label: text.to_string(),
        });
    }

    fn create_clip(&mut self, _xy: Point, _size: Point, _rounded_px: usize) -> ClipHandle {
        // Rounded records are drawn with rounded corners instead of a clip.
        0
    }
}
