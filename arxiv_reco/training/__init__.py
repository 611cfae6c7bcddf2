"""Training: a recipe, the objectives, fine-tuning, and evaluation on papers no model trained on.

    result = finetune("my_labeled_training_data.csv", papers, DEFAULT.but(epochs=1))
    ev = measure({"base": base, "fine-tuned": model}, papers, labels, corpus=fresh); ev.compare("base")

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.training.saved_model import TrainResult
    from arxiv_reco.training.evaluate import Evaluation, evaluate_models, format_comparison, measure, save_report, side_by_side
    from arxiv_reco.training.recipe import DEFAULT, Recipe
    from arxiv_reco.training.train import check_labels, finetune

The modules:

- ``saved_model``: What a fine-tuned model says about itself: the run's report (``TrainResult``), the verdict in one …
- ``evaluate``: Does fine-tuning make recommendations better? Measured only on papers no model trained on, with …
- ``objectives``: What fine-tuning optimises: each objective is a dataset and the loss that reads it
- ``projection``: The last step of fine-tuning with the offline teacher: a linear layer, fitted in closed form, that …
- ``recipe``: A fine-tuning recipe is a value: every knob of ``finetune`` in one frozen dataclass
- ``relevance``: What counts as relevant, and the ranking metrics over it
- ``stats``: Paired comparisons: is model B better than model A on the same queries, or is it noise?
- ``train``: Fine-tune a sentence-transformer on labelled paper pairs, and say what it gained on papers it never …
"""
