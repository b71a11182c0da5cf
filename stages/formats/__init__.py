"""One module per export format; `stages.formats.exporters` names them all. Importing one
module (the vocabulary, a helper) does not load every format and its consumer's library."""
