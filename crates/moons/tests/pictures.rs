//! What the pictures show: graph.svg sized to its content in the DOT's font with edges from
//! the boxes' sides, the boundary's legend, and a mesh that shrinks as
//! the model grows so that drawing stays cheap.

use moons::graph::{dot_to_svg, model_neuron_dot};
use moons::plot::{
    MESH_COLUMNS, MESH_WORK, MIN_MESH_COLUMNS, boundary_is_slow, boundary_svg, mesh_columns,
};

fn num(n: &roxmltree::Node, attr: &str) -> f64 {
    n.attribute(attr)
        .unwrap_or_else(|| panic!("{attr} missing"))
        .parse()
        .unwrap()
}

#[test]
fn graph_svg_fits_its_content_in_the_dots_font_with_edges_from_the_sides() {
    // Regression: 2,741 × 444 px for four records, ~376 px boxes for ~200 px of text, 100 px
    // blank at the bottom, Times instead of the Helvetica the DOT asks for, and edges
    // leaving from the middle of the "grad" cell.
    let model = mlp::Mlp::new(2, &[16, 16, 1], 1337);
    let g = model_neuron_dot(&model, &[0.5, -0.25]);
    assert!(g.dot.contains("fontname=\"Helvetica\""));
    let svg = dot_to_svg(&g.dot).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    let (width, height) = (num(&root, "width"), num(&root, "height"));
    let group = doc
        .descendants()
        .find(|n| n.has_tag_name("g"))
        .expect("a group of shapes");
    assert!(
        group
            .attribute("font-family")
            .unwrap()
            .starts_with("Helvetica"),
        "{svg}"
    );
    let (dx, dy) = {
        let t = group.attribute("transform").unwrap();
        let v: Vec<f64> = t
            .trim_start_matches("translate(")
            .trim_end_matches(')')
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        (v[0], v[1])
    };
    // Outer boxes: the largest rect at each position.
    let rects: Vec<(f64, f64, f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("x").is_some())
        .map(|n| {
            (
                num(&n, "x") + dx,
                num(&n, "y") + dy,
                num(&n, "width"),
                num(&n, "height"),
            )
        })
        .collect();
    let right = rects.iter().map(|r| r.0 + r.2).fold(0.0, f64::max);
    let bottom = rects.iter().map(|r| r.1 + r.3).fold(0.0, f64::max);
    let left = rects.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let top = rects.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    // Sized to the content: a small margin on every side.
    for (gap, side) in [
        (left, "left"),
        (top, "top"),
        (width - right, "right"),
        (height - bottom, "bottom"),
    ] {
        assert!(
            (0.0..=20.0).contains(&gap),
            "{side} margin {gap} in {width}×{height}"
        );
    }
    // Boxes sized to their text: a cell's width is under 10 px per character plus padding.
    for t in doc.descendants().filter(|n| n.has_tag_name("tspan")) {
        let text = t.text().unwrap_or("");
        let x = num(&t, "x") + dx;
        let y = num(&t, "y") + dy;
        let cell = rects
            .iter()
            .filter(|r| r.0 <= x && x <= r.0 + r.2 && r.1 <= y && y <= r.1 + r.3)
            .map(|r| r.2)
            .fold(f64::INFINITY, f64::min);
        if cell.is_finite() {
            assert!(
                cell < 10.0 * text.chars().count() as f64 + 30.0,
                "{text}: {cell} px"
            );
        }
    }
    // Every edge starts on the right side of a box, halfway down it (rankdir=LR).
    let mut edges = 0;
    for p in doc.descendants().filter(|n| n.has_tag_name("path")) {
        let d = p.attribute("d").unwrap();
        let mut it = d.split_whitespace().skip(1);
        let x: f64 = it.next().unwrap().parse::<f64>().unwrap() + dx;
        let y: f64 = it.next().unwrap().parse::<f64>().unwrap() + dy;
        let on_a_side = rects
            .iter()
            .any(|r| (r.0 + r.2 - x).abs() < 0.01 && (r.1 + r.3 / 2.0 - y).abs() < 0.01);
        let ellipses = doc.descendants().filter(|n| n.has_tag_name("ellipse"));
        let on_an_op = ellipses.into_iter().any(|e| {
            (num(&e, "cx") + dx + num(&e, "rx") - x).abs() < 0.01
                && (num(&e, "cy") + dy - y).abs() < 0.01
        });
        assert!(on_a_side || on_an_op, "edge {d} does not leave from a side");
        edges += 1;
    }
    // Nine values into the five ops (x1, w1, x2, w2, both products, their sum, b, n), and
    // each op into its result.
    assert_eq!(edges, 9 + 5);
}

#[test]
fn the_boundary_legend_says_which_colour_is_which_label() {
    // Regression: "outer/inner moon" could not be mapped to the picture.
    let data = mlp::datasets::two_moons(20, 0.1, 2);
    let model = mlp::Mlp::new(2, &[8, 1], 2);
    let plot = boundary_svg(&model, &data, "t").unwrap();
    assert!(!plot.svg.contains("moon"), "legend names moons");
    for entry in [
        "points labeled −1",
        "points labeled +1",
        "region the model labels −1",
        "region the model labels +1",
    ] {
        assert!(plot.svg.contains(entry), "{entry} missing");
    }
}

#[test]
fn the_mesh_shrinks_as_the_model_grows() {
    // Regression: `--hidden 2000,2000 --steps 2` trained in 0.97 s, then spent 30 s drawing.
    assert_eq!(mesh_columns(337), MESH_COLUMNS);
    let largest = (moons::limits::MEMORY_LIMIT / 8) as usize;
    let mut previous = MESH_COLUMNS;
    for params in [337, 10_000, 100_000, 4_008_001, 100_000_000, largest] {
        let columns = mesh_columns(params);
        assert!((MIN_MESH_COLUMNS..=MESH_COLUMNS).contains(&columns));
        assert!(columns <= previous, "{params}: {columns} > {previous}");
        previous = columns;
        let cells = (columns * columns) as u128;
        if columns > MIN_MESH_COLUMNS {
            assert!(
                cells * params as u128 <= 2 * MESH_WORK,
                "{params} parameters, {columns} columns"
            );
        }
    }
    // A model that makes drawing long is announced; the demo's is not.
    assert!(!boundary_is_slow(337));
    assert!(boundary_is_slow(4_008_001));

    // The picture uses that mesh: a wider model gets fewer rows.
    let data = mlp::datasets::two_moons(10, 0.1, 3);
    let rows = |hidden: usize| {
        let model = mlp::Mlp::new(2, &[hidden, 1], 3);
        let runs = boundary_svg(&model, &data, "t").unwrap().runs;
        let mut ys: Vec<u64> = runs.iter().map(|r| r.y.0.to_bits()).collect();
        ys.dedup();
        ys.len()
    };
    assert!(rows(20_000) < rows(16), "{} vs {}", rows(20_000), rows(16));
}

#[test]
fn loss_axis_labels_stay_short_at_any_magnitude() {
    // Regression: numbers readable at any magnitude; a loss of 1e14 printed 15-digit tick labels.
    let rows: Vec<moons::StepRow> = [1.17, 1e4, 1e9, 1.2e14, 1.1e14]
        .iter()
        .enumerate()
        .map(|(step, &loss)| moons::StepRow {
            step,
            loss,
            accuracy: 0.5,
            learning_rate: 100.0,
        })
        .collect();
    let svg = moons::plot::loss_svg(&rows, "t").unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(labels.contains(&"1e14"), "{labels:?}");
    assert!(labels.iter().all(|l| l.len() <= 6), "{labels:?}");
    // The log axis mixed `10000` with `1e14`; the step axis (0..4) stays plain.
    let loss_ticks: Vec<&&str> = labels.iter().take_while(|l| **l != "0").collect();
    assert!(loss_ticks.len() >= 3, "{labels:?}");
    assert!(loss_ticks.iter().all(|l| l.contains('e')), "{labels:?}");
    // The legend box sat on the loss curve; the axis names the one series instead.
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(
        !texts.contains(&"loss") && !texts.contains(&"accuracy"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.starts_with("loss (max-margin")));
}

/// The y attribute of the first `<text>` whose content is `content`.
fn text_y(doc: &roxmltree::Document<'_>, content: &str) -> f64 {
    let node = doc
        .descendants()
        .find(|n| n.has_tag_name("text") && n.text().is_some_and(|t| t.trim() == content))
        .unwrap_or_else(|| panic!("no text {content}"));
    num(&node, "y")
}

#[test]
fn the_boundary_legend_is_below_the_plot_and_large_data_is_sampled() {
    // The legend box covered the top right of the plot, and `--samples 1000000` wrote a
    // 186 MB boundary.svg, one circle per point.
    let data = mlp::datasets::two_moons(5000, 0.1, 4);
    let model = mlp::Mlp::new(2, &[8, 1], 4);
    let plot = boundary_svg(&model, &data, "t").unwrap();
    let doc = roxmltree::Document::parse(&plot.svg).unwrap();
    let below = text_y(&doc, "x₁");
    for entry in ["points labeled −1", "region the model labels +1"] {
        assert!(text_y(&doc, entry) > below, "{entry} is over the plot");
    }
    assert_eq!(plot.points_drawn, moons::plot::MAX_DRAWN_POINTS);
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(circles, 2 * moons::plot::MAX_DRAWN_POINTS + 4);
    assert!(plot.svg.contains("2000 of 5000 points drawn"));
    assert!(plot.svg.len() < 1 << 20, "{} bytes", plot.svg.len());
}

/// What a boundary picture shows, without the numbers that may differ in the last bits
/// between platforms: its texts in order (title, ticks, legend) and how many circles and
/// rectangles it draws.
fn structure(svg: &str) -> (Vec<String>, usize, usize) {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect();
    let tags = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    (texts, tags("circle"), tags("rect"))
}

#[test]
fn the_readmes_boundary_picture_is_what_the_app_draws() {
    // docs/boundary.svg, shown in the README, kept an old two-entry legend after the app's
    // legend changed.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args =
        <moons::Args as clap::Parser>::parse_from(["moons", "-q", "--out", out.to_str().unwrap()]);
    moons::run(args).unwrap();
    let drawn = std::fs::read_to_string(out.join("boundary.svg")).unwrap();
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/boundary.svg");
    let shown = std::fs::read_to_string(docs).unwrap();
    assert!(
        structure(&shown) == structure(&drawn),
        "docs/boundary.svg is not what `moons` draws now; regenerate it with \
         `cargo run -p moons -- -q --out /tmp/m && cp /tmp/m/boundary.svg docs/`"
    );
}
