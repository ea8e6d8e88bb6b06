//! 31: asyncio.timeout as a scope around part of a task: the body's await is
//! cancelled at the deadline and the scope reports ETIMEDOUT; the scope can
//! be rescheduled from inside.
use weft::Scope;

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop().unwrap();
        let r = weft::timeout(0.5, async { weft::sleep(2.0).await }).await;
        println!("timeout(0.5): {} at {:.1}", r.unwrap_err(), lp.time());

        let scope = Scope::enter(1.0).unwrap();
        println!("{}", scope.describe());
        scope.reschedule(lp.time() + 3.0).unwrap(); // more time, please
        let r = weft::sleep(2.0).await;
        let r = scope.exit(r);
        println!(
            "rescheduled: {:?}, expired: {}, {:?}",
            r,
            scope.expired(),
            scope.state()
        );
    })
    .unwrap();
}

// Output:
// timeout(0.5): ETIMEDOUT (connection timed out): timeout expired at 0.5
// <Timeout [active] when=1.500>
// rescheduled: Ok(()), expired: false, Finished
