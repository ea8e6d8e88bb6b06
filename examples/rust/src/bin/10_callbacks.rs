//! 10: call_soon, call_later and call_at (seed 000): callbacks run in FIFO
//! order, timed ones at their deadline; a cancelled one never runs.
fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    let l = lp.handle();
    lp.call_later(2.0, move || println!("call_later(2) at {:.1}", l.time()))
        .unwrap();
    let l = lp.handle();
    let at = lp.time() + 1.0;
    lp.call_at(at, move || println!("call_at({at:.1}) at {:.1}", l.time()))
        .unwrap();
    lp.call_soon(|| println!("call_soon 1")).unwrap();
    lp.call_soon(|| println!("call_soon 2")).unwrap();
    let h = lp.call_soon(|| println!("never")).unwrap();
    println!("cancelled: {}", h.cancel());
    lp.run().unwrap();
}

// Output:
// cancelled: true
// call_soon 1
// call_soon 2
// call_at(1.0) at 1.0
// call_later(2) at 2.0
