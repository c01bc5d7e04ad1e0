use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(infonce::run(std::env::args_os()))
}
