"""Assembly of independently detected and measured parts into whole-body people.

``person`` builds one ``Person`` from a body and attaches faces and hands; ``association``,
``rules`` and ``finder`` match parts to people and keep the unclaimed ones (``face_search``
looks for the body of a face no kept person holds); ``fusion``, ``duplicates`` and ``carry`` clean
the set of people, ``limbs`` the limb points that are another person's; ``estimator`` runs the
whole pipeline.
"""
