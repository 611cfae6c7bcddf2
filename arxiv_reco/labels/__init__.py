"""Labels: Gemini (online or the Batch API) or the offline teacher scores pairs into one store,
exported as my_labeled_training_data.csv.

    summary = label_pairs(pairs, "labels.sqlite", label_config(settings))
    labels = export_labels("labels.sqlite", pairs, "my_labeled_training_data.csv", gold="my_ratings.csv")
    Rater(pairs_to_rate(pairs, n=40), "my_ratings.csv").widget     # your own ratings: the gold set
    print(audit_labels(read_ratings("my_ratings.csv"), labellers_in("labels.sqlite"), pairs))

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.labels.audit import audit_labels, labellers_in
    from arxiv_reco.labels.batch import label_pairs_batch
    from arxiv_reco.labels.gemini import alabel_pairs, label_pairs
    from arxiv_reco.labels.labeling import LABEL_COLUMNS, LabelConfig, LabelSummary, export_labels, format_plan, label_config, plan_labeling, read_labels
    from arxiv_reco.labels.prompts import PromptSpec
    from arxiv_reco.labels.rating import Rater, pairs_to_rate, read_ratings
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher

The modules:

- ``audit``: Labels against a person: do a labeller's scores mean what *you* mean by "related"?
- ``batch``: Label with the Gemini Batch API: half the price of online calls, results within 24 hours
- ``gemini``: Label pairs with Gemini online: as fast as the quota allows, without losing or corrupting a label
- ``labeling``: A labelling run, whoever labels: its settings, the pairs still to label, the plan, the summary, and …
- ``prices``: What labelling costs: Gemini's list prices in one table, and the arithmetic on it
- ``prompts``: What Gemini is asked: the research-assistant instruction, the rubric, the answer schema
- ``rating``: A person's own judgment of a few pairs: the gold set a labeller's scores are audited against
- ``request``: One Gemini request, built in one place: what a run asks besides the prompt (in a neutral form the …
- ``store``: The label store: the only place labels live until export, and the only module touching SQLite
- ``teacher``: Label pairs offline: a stronger local sentence-transformers model scores each pair, no API.
"""
