//! The `chuangtong` binary: parse the command line, start logging, hand over.

fn main() -> std::process::ExitCode {
    chuangtong::cli::main()
}
