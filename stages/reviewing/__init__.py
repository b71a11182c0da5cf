"""The review tool behind `python -m stages.review`: an index of the dataset, the trainer's
view of a record, the annotations file as an editable store, and the local web server."""
