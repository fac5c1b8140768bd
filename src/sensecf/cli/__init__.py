"""The `sensecf` command: parse options, call the library, save, print.

``main`` holds the group and turns bad input into one line and exit status 2; each verb is its
own module (``synth``, ``features``, ``train``, ``explain``, ``benchmark``, ``demo``);
``options`` declares the options several verbs share; ``console`` renders tables and progress.
What a verb computes lives in the library (e.g. :func:`sensecf.explanation.explain`).
"""
