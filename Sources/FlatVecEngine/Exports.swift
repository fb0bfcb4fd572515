// The engine speaks in the index's and the stores' types (VectorBatch, SearchOptions, SearchHit,
// FlatVecError, MemoryOnlyStore, LocalDirectoryStore, ...): a program that imports it gets them with it.
@_exported import FlatVecCore
@_exported import FlatVecStorage
