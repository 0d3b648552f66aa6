//! Where the boxes of the waits-for graph go: a layered layout, roots on top.
//!
//! A root blocker (it holds what others want, and waits for nobody) sits in the top layer; a
//! transaction that waits sits one layer below the lowest of those it waits for, so every
//! arrow of a queue points up, towards the cause. Boxes are as wide as their whole label (the
//! page draws labels in a monospace font, so the width is known here); each layer is one row
//! (so no arrow passes behind a box of its own layer), and a layer with more boxes than fit
//! shows the first ones and a "+N more" box. No two boxes overlap (tested below). Pure geometry, tested natively; the page
//! draws what [`layered`] returns.

/// Width of one character of a label, in the picture's units (12 px monospace).
pub const CHAR_W: f64 = 7.3;
/// Padding inside a box, left and right together.
pub const PAD: f64 = 20.0;
/// A box's height.
pub const BOX_H: f64 = 24.0;
/// Space between boxes in a row.
pub const GAP_X: f64 = 14.0;
/// Space between rows (room for the arrows).
pub const GAP_Y: f64 = 30.0;
/// The picture's widest row.
pub const MAX_W: f64 = 440.0;
/// How many boxes a layer shows at most (the rest are counted in a "+N more" box).
pub const MAX_PER_LAYER: usize = 8;

/// A box of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// The transaction's label (`reporting #107`), or `+3 more` for those not drawn.
    pub label: String,
    /// Whether it stands for several transactions not drawn.
    pub more: bool,
    /// Its centre.
    pub x: f64,
    /// Its centre.
    pub y: f64,
    /// Its width.
    pub w: f64,
}

impl NodeBox {
    /// Where the segment from this box's centre towards `(tx, ty)` leaves the box's border.
    pub fn border_towards(&self, tx: f64, ty: f64) -> (f64, f64) {
        let (dx, dy) = (tx - self.x, ty - self.y);
        if dx == 0.0 && dy == 0.0 {
            return (self.x, self.y);
        }
        let sx = if dx == 0.0 {
            f64::INFINITY
        } else {
            (self.w / 2.0) / dx.abs()
        };
        let sy = if dy == 0.0 {
            f64::INFINITY
        } else {
            (BOX_H / 2.0) / dy.abs()
        };
        let s = sx.min(sy);
        (self.x + dx * s, self.y + dy * s)
    }
}

/// The laid-out graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The boxes, in layer order.
    pub nodes: Vec<NodeBox>,
    /// The picture's size.
    pub width: f64,
    /// The picture's size.
    pub height: f64,
}

impl Layout {
    /// The box of a transaction, if drawn.
    pub fn node(&self, label: &str) -> Option<&NodeBox> {
        self.nodes.iter().find(|n| !n.more && n.label == label)
    }
}

fn box_width(label: &str) -> f64 {
    label.chars().count() as f64 * CHAR_W + PAD
}

/// Lays out `names` (in order of importance) with `edges` from a waiter to whom it waits for.
pub fn layered(names: &[String], edges: &[(String, String)]) -> Layout {
    let index = |name: &str| names.iter().position(|n| n == name);
    let blockers: Vec<Vec<usize>> = names
        .iter()
        .map(|name| {
            edges
                .iter()
                .filter(|(waiter, _)| waiter == name)
                .filter_map(|(_, blocker)| index(blocker))
                .collect()
        })
        .collect();
    // depth = 1 + the deepest of those it waits for; a cycle is cut where it closes.
    let mut depth: Vec<Option<usize>> = vec![None; names.len()];
    fn depth_of(
        i: usize,
        blockers: &[Vec<usize>],
        depth: &mut Vec<Option<usize>>,
        visiting: &mut Vec<bool>,
    ) -> usize {
        if let Some(d) = depth[i] {
            return d;
        }
        visiting[i] = true;
        let mut d = 0;
        for &b in &blockers[i] {
            if !visiting[b] {
                d = d.max(depth_of(b, blockers, depth, visiting) + 1);
            }
        }
        visiting[i] = false;
        depth[i] = Some(d);
        d
    }
    let mut visiting = vec![false; names.len()];
    for i in 0..names.len() {
        depth_of(i, &blockers, &mut depth, &mut visiting);
    }
    let layers = depth.iter().flatten().max().map_or(0, |d| d + 1);
    let mut nodes: Vec<NodeBox> = Vec::new();
    let mut rows: Vec<Vec<(String, bool)>> = Vec::new();
    for layer in 0..layers {
        let members: Vec<&String> = names
            .iter()
            .zip(&depth)
            .filter(|(_, d)| **d == Some(layer))
            .map(|(n, _)| n)
            .collect();
        // One row per layer, so an arrow never passes behind a box of its own layer: as many
        // boxes as fit, the rest counted in a "+N more" box.
        let more_w = box_width(&format!("+{} more", members.len()));
        let mut row: Vec<(String, bool)> = Vec::new();
        let mut used = 0.0;
        for (i, name) in members.iter().enumerate() {
            let w = box_width(name);
            let last = i + 1 == members.len();
            let room = if last { 0.0 } else { GAP_X + more_w };
            let needed = if row.is_empty() { w } else { GAP_X + w };
            if row.len() >= MAX_PER_LAYER || used + needed + room > MAX_W {
                row.push((format!("+{} more", members.len() - i), true));
                break;
            }
            used += needed;
            row.push(((*name).clone(), false));
        }
        rows.push(row);
    }
    let row_width = |row: &[(String, bool)]| -> f64 {
        row.iter().map(|(l, _)| box_width(l)).sum::<f64>()
            + GAP_X * row.len().saturating_sub(1) as f64
    };
    let width = rows
        .iter()
        .map(|r| row_width(r))
        .fold(0.0, f64::max)
        .max(120.0)
        + 8.0;
    for (r, row) in rows.iter().enumerate() {
        let y = 4.0 + BOX_H / 2.0 + r as f64 * (BOX_H + GAP_Y);
        let mut x = (width - row_width(row)) / 2.0;
        for (label, more) in row {
            let w = box_width(label);
            nodes.push(NodeBox {
                label: label.clone(),
                more: *more,
                x: x + w / 2.0,
                y,
                w,
            });
            x += w + GAP_X;
        }
    }
    let height = 8.0 + rows.len() as f64 * BOX_H + rows.len().saturating_sub(1) as f64 * GAP_Y;
    Layout {
        nodes,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn edge(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    fn assert_no_overlap(layout: &Layout) {
        for (i, a) in layout.nodes.iter().enumerate() {
            assert!(
                a.x - a.w / 2.0 >= 0.0 && a.x + a.w / 2.0 <= layout.width,
                "{a:?} inside"
            );
            for b in &layout.nodes[i + 1..] {
                let apart_x = (a.x - b.x).abs() >= (a.w + b.w) / 2.0;
                let apart_y = (a.y - b.y).abs() >= BOX_H;
                assert!(apart_x || apart_y, "{a:?} overlaps {b:?}");
            }
        }
    }

    /// The ALTER queue: the report on top, the ALTER below it, the storefront's reads below that.
    #[test]
    fn a_queue_points_up_to_its_root_blocker() {
        let mut list = vec!["reporting #107", "(timeline) shop #148"];
        let readers: Vec<String> = (0..12)
            .map(|i| format!("storefront #{}", 149 + i))
            .collect();
        list.extend(readers.iter().map(String::as_str));
        let mut edges = vec![edge("(timeline) shop #148", "reporting #107")];
        edges.extend(readers.iter().map(|r| edge(r, "(timeline) shop #148")));
        let layout = layered(&names(&list), &edges);
        let report = layout.node("reporting #107").expect("drawn");
        let alter = layout.node("(timeline) shop #148").expect("drawn");
        let reader = layout.node("storefront #149").expect("drawn");
        assert!(report.y < alter.y && alter.y < reader.y, "roots on top");
        assert_eq!(
            alter.w,
            box_width("(timeline) shop #148"),
            "the label is whole"
        );
        let more = layout.nodes.iter().find(|n| n.more).expect("a +N more box");
        assert!(
            more.label.ends_with(" more") && more.y > alter.y,
            "{more:?}"
        );
        let rows: std::collections::BTreeSet<i64> =
            layout.nodes.iter().map(|n| n.y as i64).collect();
        assert_eq!(rows.len(), 3, "one row per layer");
        assert!(layout.width <= MAX_W + 8.0);
        assert_no_overlap(&layout);
    }

    /// A deadlock's cycle still gets a layout (the cycle is cut where it closes).
    #[test]
    fn a_cycle_is_laid_out_without_overlap() {
        let layout = layered(
            &names(&["A", "B", "C"]),
            &[edge("A", "B"), edge("B", "C"), edge("C", "A")],
        );
        assert_eq!(layout.nodes.len(), 3);
        assert_no_overlap(&layout);
    }

    #[test]
    fn arrows_leave_a_box_at_its_border() {
        let node = NodeBox {
            label: "x".into(),
            more: false,
            x: 100.0,
            y: 50.0,
            w: 60.0,
        };
        assert_eq!(node.border_towards(100.0, 0.0), (100.0, 50.0 - BOX_H / 2.0));
        assert_eq!(node.border_towards(300.0, 50.0), (130.0, 50.0));
    }
}
