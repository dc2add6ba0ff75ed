# The Debian package, by CPack: `cmake --build <dir> --target package` writes
# <dir>/podstream_<version>-1_<arch>.deb. Its version is project(VERSION), the one
# `podstream --version` reports, plus the Debian revision -1. Files come from the
# install rules (service/ and installer/); maintainer scripts and conffiles from
# installer/linux/debian/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME podstream)
set(CPACK_PACKAGE_VENDOR "The podstream maintainers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The podstream maintainers <maintainers@podstream.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Proofpoint On Demand log stream collector")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# The install script puts system files under /etc and /lib/systemd when the prefix is
# /usr: it needs the real prefix and DESTDIR, not a prefix inside the staging area.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/podstream/podstream")
# The extended description (CPack puts the summary above it and indents it).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "podstream streams the events of Proofpoint On Demand's Log API (message,
maillog and audit) over WebSocket, runs them through pipelines and stores
them in a local SQLite database, without loss or duplicates across
restarts, drops and outages. It runs as the systemd service podstream.")
# Library dependencies from dpkg-shlibdeps; adduser and deb-systemd-helper for the
# maintainer scripts.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(_ps_deb ${PROJECT_SOURCE_DIR}/installer/linux/debian)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_ps_deb}/postinst ${_ps_deb}/prerm ${_ps_deb}/postrm ${_ps_deb}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# With podstream-gui built, a second binary package podstream-gui from install component
# `gui` (gui/CMakeLists.txt), one .deb per component; the service's package is the
# component Unspecified, with the name, contents and control data it has alone. The
# settings above that would leak into the GUI's package (maintainer scripts, Depends)
# move to the service's component.
if(TARGET podstream-gui)
    set(CPACK_DEB_COMPONENT_INSTALL ON)
    set(CPACK_COMPONENTS_ALL Unspecified gui)
    set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_NAME podstream)
    set(CPACK_DEBIAN_UNSPECIFIED_DESCRIPTION
        "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}\n${CPACK_DEBIAN_PACKAGE_DESCRIPTION}")
    set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_DEPENDS "${CPACK_DEBIAN_PACKAGE_DEPENDS}")
    set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_CONTROL_EXTRA ${CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA})
    unset(CPACK_DEBIAN_PACKAGE_DEPENDS)
    unset(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA)

    set(CPACK_DEBIAN_GUI_PACKAGE_NAME podstream-gui)
    set(CPACK_DEBIAN_GUI_PACKAGE_SECTION admin)
    set(CPACK_DEBIAN_GUI_DESCRIPTION "Desktop app for the podstream service
podstream-gui shows the devices of a podstream service with their live
state and counts, finds stored mail with the filters of podstream query,
traces one mail's way and checks device settings. It reads the service's
configuration and database; the user needs to be in the podstream group.")
    # The GUI reads what the service writes, of the same version.
    set(CPACK_DEBIAN_GUI_PACKAGE_RECOMMENDS "podstream (= ${PROJECT_VERSION}-1)")
    # CPackDeb puts the one summary above every component's description; each
    # description here starts with its own (cmake/PsCPackProject.cmake).
    set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/PsCPackProject.cmake)
endif()

include(CPack)
