// The key of the method a dataset whose batches come from elsewhere (a
// `RemoteDataset`'s data hosts) makes its own fetcher with, which
// src/fetch/_fetchers.ts looks for. `Symbol.for`, so that it is the same
// key in every copy of this package a program loads.

/** The key of a dataset's method that makes its `count` fetchers, when it has its own kind. */
export const MAKE_FETCHER: unique symbol = Symbol.for("@pydataset/pydataset.makeFetcher");
