//! Runs every lesson and compares what it prints with the `// Output:`
//! block at the end of its source.
use std::path::Path;
use std::process::Command;

fn check(name: &str, exe: &str) {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/bin")
            .join(format!("{name}.rs")),
    )
    .unwrap();
    let (_, tail) = src.split_once("// Output:\n").expect("an // Output: block");
    let want: String = tail
        .lines()
        .map(|l| l.strip_prefix("// ").unwrap_or("").to_string() + "\n")
        .collect();
    let out = Command::new(exe).output().expect("run the lesson");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        want,
        "{name} printed something else"
    );
}

macro_rules! lessons {
    ($($test:ident => $bin:literal),*) => {$(
        #[test]
        fn $test() {
            check($bin, env!(concat!("CARGO_BIN_EXE_", $bin)));
        }
    )*};
}

#[test]
fn every_lesson_is_listed() {
    let n = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin"))
        .unwrap()
        .count();
    assert_eq!(n, 28, "add the new lesson to the lessons! list below");
}

lessons!(
    lesson_01 => "01_hello",
    lesson_02 => "02_five_sleeps",
    lesson_03 => "03_sleep_zero",
    lesson_04 => "04_create_task",
    lesson_05 => "05_concurrent_delay",
    lesson_06 => "06_task_result",
    lesson_07 => "07_cancel",
    lesson_08 => "08_make_request",
    lesson_09 => "09_future_api",
    lesson_10 => "10_callbacks",
    lesson_11 => "11_run_until_complete",
    lesson_12 => "12_generator_send",
    lesson_13 => "13_gather",
    lesson_14 => "14_wait_for_shield",
    lesson_15 => "15_wait",
    lesson_16 => "16_as_completed",
    lesson_20 => "20_producer_consumer",
    lesson_21 => "21_semaphore_limit",
    lesson_30 => "30_taskgroup",
    lesson_31 => "31_timeout_scope",
    lesson_35 => "35_executor",
    lesson_40 => "40_tcp_echo",
    lesson_41 => "41_subprocess_pipeline",
    lesson_50 => "50_resolve",
    lesson_51 => "51_udp_echo",
    lesson_52 => "52_signal",
    lesson_53 => "53_file_copy",
    lesson_54 => "54_graceful_shutdown"
);
