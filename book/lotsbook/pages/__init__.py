"""One helper module per page of the book: a chapter's code is its notebook plus its page module.

Each chapter notebook imports its module (``from lotsbook.pages import benchmark as page``) and
calls it for the tables, figures, captions and generated sentences that serve that chapter
alone; what several chapters share is :mod:`lotsbook.results` (result helpers) and
:mod:`lotsbook.plots` (captioned figures and tables).

========================================  ============================================
module                                    page
========================================  ============================================
:mod:`lotsbook.pages.attack`              1 LOTS on real photos
:mod:`lotsbook.pages.visualization`       2 From perturbation to activation map
:mod:`lotsbook.pages.targets`             3 Choice of the LOTS target
:mod:`lotsbook.pages.benchmark`           4 LOTS against six CAM methods
:mod:`lotsbook.pages.qualitative`         5 Qualitative comparison
:mod:`lotsbook.pages.unseen`              6 Objects without an ImageNet class
:mod:`lotsbook.pages.parameters`          7 Parameter study
:mod:`lotsbook.pages.sanity`              8 Sanity checks
:mod:`lotsbook.pages.own`                 Try your own image
:mod:`lotsbook.pages.findings`            What became of the thesis's claims
:mod:`lotsbook.pages.provenance`          Provenance
========================================  ============================================
"""
