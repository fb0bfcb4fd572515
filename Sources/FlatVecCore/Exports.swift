// The index speaks in the model's types (VectorBatch, SearchOptions, SearchHit, FlatVecError, ...):
// a program that imports the index gets them with it.
@_exported import FlatVecModel
