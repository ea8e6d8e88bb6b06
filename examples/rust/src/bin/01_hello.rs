//! 01: the "hello world" coroutine of seed 002, run with weft::run (asyncio.run).
//!
//!     async def hello():
//!         print('Hello World:%s' % time.time())
//!         await asyncio.sleep(1)
//!         print('Hello wow World:%s' % time.time())
//!     asyncio.run(hello())
//!
//! The lessons run on a loop with a virtual clock (Loop::new_virtual), so a
//! one-second sleep takes no wall time and the printed times are exact;
//! weft::run(fut) is the same thing on the real clock.
fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop().unwrap();
        println!("Hello World: {:.1}", lp.time());
        weft::sleep(1.0).await.unwrap(); // a 1 s "I/O operation"
        println!("Hello wow World: {:.1}", lp.time());
    })
    .unwrap();
    // and the same on the real clock, for a shorter while
    let v = weft::run(async {
        weft::sleep(0.01).await?;
        Ok::<&str, weft::Error>("real clock")
    });
    println!("{}", v.unwrap().unwrap());
}

// Output:
// Hello World: 0.0
// Hello wow World: 1.0
// real clock
