//! 02: five tasks that each sleep 1 s finish after 1 s, not 5 (seed 002).
//!
//!     async def hello():
//!         await asyncio.sleep(1)
//!     tasks = [hello() for i in range(5)]
//!     loop.run_until_complete(asyncio.wait(tasks))
fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop().unwrap();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let lp = lp.clone();
                weft::spawn(async move {
                    weft::sleep(1.0).await?;
                    println!("Hello wow World {i}: {:.1}", lp.time());
                    Ok::<(), weft::Error>(())
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap(); // while main waits for one, the others sleep too
        }
        println!("all done at {:.1} s", lp.time());
    })
    .unwrap();
}

// Output:
// Hello wow World 0: 1.0
// Hello wow World 1: 1.0
// Hello wow World 2: 1.0
// Hello wow World 3: 1.0
// Hello wow World 4: 1.0
// all done at 1.0 s
