//! How much memory loading a model file takes at its peak, counted by a global allocator
//! (its own test binary): the file's text is never held, so the peak is about the model's
//! own size.
#![cfg(feature = "serde")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlp::Mlp;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Old and new blocks both count while the contents move.
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most bytes live at once while loading `path`, above what was live before, and the
/// file's size.
fn peak_of_load(path: &std::path::Path) -> (usize, usize) {
    let size = fs::metadata(path).unwrap().len() as usize;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let model = Mlp::load_with_limit(path, u64::MAX).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(model);
    (peak, size)
}

// Pins a bug: loading peaked at about 9 times the file's size (the text, an intermediate
// copy of every neuron, then the model). The figures are those in `Mlp::load`'s docs.
#[test]
fn loading_peaks_at_about_the_models_size() {
    let dir = std::env::temp_dir().join(format!("mlp-test-memory-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.json");

    // A file as `save` writes it: about 20 bytes a parameter, 8 in memory.
    Mlp::new(2, &[300, 300, 1], 1).save(&path).unwrap();
    let (peak, size) = peak_of_load(&path);
    println!("saved model: peak {peak} bytes for a {size}-byte file");
    assert!(peak * 2 < size, "peak {peak} bytes for a {size}-byte file");

    // The worst case for the ratio: neurons of one weight, numbers of one digit. The model
    // alone takes 3.1 times the file (a neuron is 40 bytes and its weight 8, for 16 bytes
    // of text); growing the list of neurons adds the rest.
    let n = 100_000;
    let mut json = String::from(r#"{"format":"tapegrad-mlp","version":1,"nin":1,"layers":["#);
    json.push_str(r#"{"activation":"relu","neurons":["#);
    for i in 0..n {
        json.push_str(if i == 0 { "" } else { "," });
        json.push_str(r#"{"w":[1],"b":0}"#);
    }
    json.push_str(r#"]},{"activation":"linear","neurons":[{"w":["#);
    for i in 0..n {
        write!(json, "{}{}", if i == 0 { "" } else { "," }, i % 10).unwrap();
    }
    json.push_str(r#"],"b":0}]}]}"#);
    fs::write(&path, &json).unwrap();
    let (peak, size) = peak_of_load(&path);
    println!("one-weight neurons: peak {peak} bytes for a {size}-byte file");
    assert!(peak < 6 * size, "peak {peak} bytes for a {size}-byte file");
    fs::remove_dir_all(&dir).unwrap();
}
