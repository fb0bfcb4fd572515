/// A read-only pointer handed to parallel workers.
struct SharedPointer: @unchecked Sendable {
    // @unchecked: the pointee is immutable for the duration of the parallel section.
    let pointer: UnsafePointer<Float>

    init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}
