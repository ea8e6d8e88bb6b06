//! 05: tasks run while their creator does other work (seed 004).
//!
//!     async def delay(s):
//!         print(f"waiting {s} s"); await asyncio.sleep(s); print(f"done waiting {s} s"); return s
//!     async def hello_every_second():
//!         for i in range(2):
//!             await asyncio.sleep(1); print("running other code while waiting")
//!     first = asyncio.create_task(delay(3)); second = asyncio.create_task(delay(3))
//!     await hello_every_second(); await first; await second
async fn delay(s: f64) -> weft::Result<f64> {
    println!("waiting {s} s");
    weft::sleep(s).await?;
    println!("done waiting {s} s");
    Ok(s)
}

async fn hello_every_second() {
    for _ in 0..2 {
        weft::sleep(1.0).await.unwrap();
        println!("running other code while waiting");
    }
}

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let first = weft::spawn(delay(3.0));
        let second = weft::spawn(delay(3.0));
        hello_every_second().await;
        println!("{:?} {:?}", first.await, second.await);
        println!("total {:.1} s", weft::current_loop().unwrap().time());
    })
    .unwrap();
}

// Output:
// waiting 3 s
// waiting 3 s
// running other code while waiting
// running other code while waiting
// done waiting 3 s
// done waiting 3 s
// Ok(3.0) Ok(3.0)
// total 3.0 s
