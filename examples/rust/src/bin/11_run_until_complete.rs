//! 11: loop.run_until_complete (seed 000): run a loop until one future is
//! done, with other tasks going on meanwhile.
fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    let background = lp.spawn(async {
        weft::sleep(5.0).await?;
        println!("background done");
        Ok::<(), weft::Error>(())
    });
    let fut = lp.sleep(1.0);
    lp.run_until(&fut).unwrap();
    println!(
        "run_until returned at {:.1}; background finished: {}",
        lp.time(),
        background.is_finished()
    );
    // block_on is run_until_complete for a Rust future
    let v = lp
        .block_on(async { weft::sleep(1.0).await.map(|_| "block_on value") })
        .unwrap();
    println!("{v:?} at {:.1}", lp.time());
    lp.run().unwrap();
    println!("run returned at {:.1}", lp.time());
}

// Output:
// run_until returned at 1.0; background finished: false
// Ok("block_on value") at 2.0
// background done
// run returned at 5.0
