import FlatVecCore

// OpenBLAS picks its kernel when it loads; switching to the fast one needs a fresh process.
BLASRuntime.reexecWithFastKernelIfNeeded()
FlatVecCommand.main()
