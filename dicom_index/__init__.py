"""dicom_index."""
