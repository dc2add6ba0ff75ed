# Read by cpack after CPackConfig.cmake (CPACK_PROJECT_CONFIG_FILE, set by
# cmake/PsPackaging.cmake). With one package per component, CPackDeb would put
# CPACK_PACKAGE_DESCRIPTION_SUMMARY above each component's description, the service's
# summary above the GUI's; it leaves out a summary equal to the default one, so the
# default is made ours and each CPACK_DEBIAN_<COMPONENT>_DESCRIPTION starts with its
# own summary line.
if(CPACK_DEB_COMPONENT_INSTALL)
    set(CPACK_DEFAULT_PACKAGE_DESCRIPTION_SUMMARY "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}")
endif()
