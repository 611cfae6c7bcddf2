"""Pairs worth labelling, split by paper.

    pairs = sample_pairs(papers, n=2_000)      # anchored; "mixed", "neighbors", "category", "random"
    save_pairs(pairs, "pairs.csv"); print(pair_report(pairs, papers))

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.pairs.sampling import PAIR_COLUMNS, STRATEGIES, assign_splits, pair_id, pair_report, read_pairs, sample_pairs, save_pairs

The modules:

- ``sampling``: Pairs worth labelling, split by paper so evaluation never sees a training paper
"""
