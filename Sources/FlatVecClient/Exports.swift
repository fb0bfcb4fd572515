// Requests, replies and the client's API speak in the model's types (VectorBatch, SearchOptions,
// SearchHit, FlatVecError, ...): a program that imports this module gets them with it.
@_exported import FlatVecModel
