"""Assembly of independently detected and measured parts into whole-body people.

``person`` builds one ``Person`` from a body and attaches faces and hands; ``association``,
``rules`` and ``finder`` match parts to people and keep the unclaimed ones (``face_search``
looks for the body below an unclaimed face); ``fusion``, ``duplicates`` and ``carry`` clean the
set of people; ``estimator`` runs the whole pipeline.
"""
