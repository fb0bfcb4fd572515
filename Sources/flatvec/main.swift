import FlatVecCore

/// Runs the command line; inside an async function the async `main` of the root command is chosen.
func runCommandLine() async {
    await FlatVecCommand.main()
}

// OpenBLAS picks its kernel when it loads; switching to the fast one needs a fresh process.
BLASRuntime.reexecWithFastKernelIfNeeded()
await runCommandLine()
