"""Option columns of PS3.15 Table E.1-1 that the ``dicom-anonymizer`` package does not carry.

``dicom-anonymizer`` (the maintained source of the Basic Profile actions, see
:mod:`deid.dicom_profile`) ships only the Basic Profile column.  The two option columns we need as
attribute lists - *Rtn. Pat. Chars. Opt.* and *Clean Desc. Opt.* - are taken from the machine-readable
extraction of Table E.1-1 in ``innolitics/dicom-standard``, file
``standard/confidentiality_profile_attributes.json`` (commit 0d01bf11dfc1d0b73b6df85bbf6e1764d3c558a3),
keys ``rtnPatCharsOpt`` and ``cleanDescOpt``.  Attributes are named by their DICOM keyword (resolved
to tags through pydicom's data dictionary, so no tag numbers are typed here); the tests check that
every keyword resolves and is present in the Basic Profile table loaded from the package.

That extraction predates the newest edition, so attributes added since (e.g. Ethnic Group Code
Sequence, Annotation Group Description) are not listed: they keep their Basic Profile action, which
is always the stricter choice.  Three further rules are derived, not listed:

* *Rtn. Long. Modif. Dates Opt.* is ``C`` for every date/time attribute of the table except the
  patient's birth date/time, so it is applied by VR (DA/DT/TM) in :mod:`deid.dicom_profile`
  (Timezone Offset From UTC, an SH, keeps its Basic Profile removal);
* Clean Descriptors entries that are sequences (code sequences, Request Attributes Sequence) or
  binary (OB: Maker Note, Device Setting Description) are not cleaned but keep the Basic Profile
  action (removal) - cleaning coded content belongs to the Clean Structured Content option, which we
  do not claim;
* the Retain Safe Private option needs a list of safe private attributes (PS3.15 Table E.3.10-1),
  which is not bundled: with the option on, only the private tags named in the release policy
  survive.
"""

from __future__ import annotations

#: rtnPatCharsOpt == "K"
PATIENT_CHARACTERISTICS_KEEP: tuple[str, ...] = (
    "EthnicGroup",
    "PatientAge",
    "PatientSex",
    "PatientSexNeutered",
    "PatientSize",
    "PatientWeight",
    "PregnancyStatus",
    "SmokingStatus",
)

#: rtnPatCharsOpt == "C"
PATIENT_CHARACTERISTICS_CLEAN: tuple[str, ...] = (
    "Allergies",
    "PatientState",
    "PreMedication",
    "SpecialNeeds",
)

#: cleanDescOpt == "C"
CLEAN_DESCRIPTORS: tuple[str, ...] = (
    "AcquisitionComments",
    "AcquisitionDeviceProcessingDescription",
    "AcquisitionFieldOfViewLabel",
    "AcquisitionProtocolDescription",
    "AdditionalPatientHistory",
    "AdmittingDiagnosesCodeSequence",
    "AdmittingDiagnosesDescription",
    "Allergies",
    "BeamDescription",
    "BolusDescription",
    "ClinicalTrialSeriesDescription",
    "ClinicalTrialTimePointDescription",
    "CommentsOnRadiationDose",
    "CommentsOnThePerformedProcedureStep",
    "CompensatorDescription",
    "ConceptualVolumeCombinationDescription",
    "ConceptualVolumeDescription",
    "ContainerDescription",
    "ContrastBolusAgent",
    "ContributionDescription",
    "DecompositionDescription",
    "DerivationDescription",
    "DeviceSettingDescription",
    "DischargeDiagnosisDescription",
    "DoseReferenceDescription",
    "EntityDescription",
    "EntityLabel",
    "EntityLongLabel",
    "EntityName",
    "EquipmentFrameOfReferenceDescription",
    "FixationDeviceDescription",
    "FractionationNotes",
    "FractionGroupDescription",
    "FrameComments",
    "IdentifyingComments",
    "ImageComments",
    "ImagingServiceRequestComments",
    "Impressions",
    "InterlockDescription",
    "InterlockOriginDescription",
    "InterpretationDiagnosisDescription",
    "InterpretationText",
    "LabelText",
    "LongDeviceDescription",
    "MakerNote",
    "MedicalAlerts",
    "MultienergyAcquisitionDescription",
    "Occupation",
    "PatientComments",
    "PatientState",
    "PerformedProcedureStepDescription",
    "PrescriptionDescription",
    "PrescriptionNotes",
    "PrescriptionNotesSequence",
    "PriorTreatmentDoseDescription",
    "ProtocolName",
    "RadiationDoseIdentificationLabel",
    "RadiationDoseInVivoMeasurementLabel",
    "RadiationGenerationModeDescription",
    "RadiationGenerationModeLabel",
    "ReasonForOmissionDescription",
    "ReasonForRequestedProcedureCodeSequence",
    "ReasonForStudy",
    "ReasonForSuperseding",
    "ReasonForTheImagingServiceRequest",
    "ReasonForTheRequestedProcedure",
    "ReasonForVisit",
    "ReasonForVisitCodeSequence",
    "RequestAttributesSequence",
    "RequestedContrastAgent",
    "RequestedProcedureComments",
    "RequestedProcedureDescription",
    "RequestedSeriesDescription",
    "RespiratoryMotionCompensationTechniqueDescription",
    "ResultsComments",
    "ROIDescription",
    "ROIGenerationDescription",
    "ROIName",
    "ROIObservationDescription",
    "ROIObservationLabel",
    "RTPhysicianIntentNarrative",
    "RTPlanDescription",
    "RTPlanLabel",
    "RTPlanName",
    "RTPrescriptionLabel",
    "RTToleranceSetLabel",
    "RTTreatmentApproachLabel",
    "ScheduledProcedureStepDescription",
    "SeriesDescription",
    "ServiceEpisodeDescription",
    "SetupTechniqueDescription",
    "ShieldingDeviceDescription",
    "SpecimenDetailedDescription",
    "SpecimenShortDescription",
    "StructureSetDescription",
    "StructureSetLabel",
    "StructureSetName",
    "StudyComments",
    "StudyDescription",
    "TreatmentPositionGroupLabel",
    "TreatmentSite",
    "TreatmentTechniqueNotes",
    "TreatmentToleranceViolationDescription",
    "UserContentLabel",
    "UserContentLongLabel",
    "VisitComments",
)

#: Birth date/time carry no Modified Dates option entry: they stay as the Basic Profile says (Z / X).
DATE_OPTION_EXCLUDED: tuple[str, ...] = ("PatientBirthDate", "PatientBirthTime")
