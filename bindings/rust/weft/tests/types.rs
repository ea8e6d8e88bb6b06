//! The public types are nameable and behave as documented.
use std::time::Duration;

use weft::{
    AsFuture, CallHandle, Code, Delay, Error, Gather, GatherSettled, Hold, Loop, RemoteFuture, RunMode, Select, Shield,
    TaskOutput, Value, WaitFor, YieldNow,
};

fn c_pointer<A: AsFuture>(a: &A) -> bool {
    // every AsFuture has a weft future (a broken one reports why not)
    let _ = a;
    true
}

fn is_value<T: Value>() {}
fn is_output<O: TaskOutput>() {}
fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

#[test]
fn names_and_traits() {
    is_value::<i64>();
    is_value::<weft::AnyValue>();
    is_output::<weft::Local<Vec<i32>>>();
    is_output::<Result<String, Error>>();
    is_send::<RemoteFuture<i64>>();
    is_sync::<RemoteFuture<i64>>();
    is_send::<Hold>();
    is_send::<weft::Remote>();
    assert_eq!(Delay::seconds(Duration::from_millis(1500)), 1.5);
    assert_eq!(Delay::seconds(0.25f32), 0.25);
    assert_eq!(2.0f64.seconds(), 2.0);
    for (code, name) in [
        (Code::NO_MEMORY, "ENOMEM"),
        (Code::STOPPED, "ESTOPPED"),
        (Code::THREAD, "ETHREAD"),
        (Code::INVALID, "EINVAL"),
        (Code::DEADLOCK, "EDEADLOCK"),
    ] {
        assert_eq!(code.name(), name);
    }
    let failed = Error::Failed { code: Code::BUSY, message: None };
    assert_eq!(failed.code(), Code::BUSY);
    assert_eq!(RunMode::Default, RunMode::Default);

    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let a = weft::sleep(1.0);
        assert!(c_pointer(&a) && c_pointer(&&a));
        let g: Gather<()> = weft::gather([&a]);
        let s: GatherSettled<()> = weft::gather_settled([&a]);
        let w: WaitFor<weft::Future<()>> = weft::wait_for(weft::sleep(1.0), 5.0);
        let sh: Shield<weft::Future<()>> = weft::shield(weft::sleep(1.0));
        let sel: Select<weft::Future<()>> = weft::select(vec![weft::sleep(1.0)]);
        let y: YieldNow = weft::yield_now();
        y.await;
        assert_eq!((g.await, s.await.unwrap().len(), w.await, sh.await), (Ok(vec![()]), 1, Ok(()), Ok(())));
        assert_eq!(sel.await.0, 0);
        let h: CallHandle = weft::call_soon(|| {}).unwrap();
        assert!(!h.is_cancelled());
        let task = weft::spawn(async {}).task().unwrap();
        assert!(c_pointer(&task));
        assert_eq!(weft::gather::<(), _>([task]).await, Ok(vec![()]));
        let hold: Hold = weft::current_loop().unwrap().hold().unwrap();
        drop(hold);
    })
    .unwrap();
}
