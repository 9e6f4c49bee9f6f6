"""cohort-engine: natural-language cohort queries over OMOP CDM marts, linked to DICOM imaging.

One import namespace. The stage folders of the repository (``nlq/``, ``schema_catalog/``,
``sql_guard/``, ``dicom_index/``, ``deid/``, ``api/``, ``evals/``) install as
``cohort_engine.nlq`` … ``cohort_engine.evals``; the contract every stage shares
(:mod:`cohort_engine.spec`) and the composition of the stages (:mod:`cohort_engine.pipeline`) live
here at the root. :mod:`cohort_engine.layers` says who may import whom, and a test holds it.
"""

__version__ = "0.1.0"
