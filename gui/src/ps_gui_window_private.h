/* The window's state, shared by its page files (ps_gui_*_page.c) only. */
#ifndef PS_GUI_WINDOW_PRIVATE_H
#define PS_GUI_WINDOW_PRIVATE_H

#include "ps_gui_devices.h"
#include "ps_gui_event_list.h"
#include "ps_gui_form.h"
#include "ps_gui_pipelines.h"
#include "ps_gui_rates.h"
#include "ps_gui_reload.h"
#include "ps_gui_save.h"
#include "ps_gui_window.h"

/* The Events page's text filters, in the order of the grid. */
enum {
    PS_GUI_F_SEARCH,
    PS_GUI_F_SINCE,
    PS_GUI_F_UNTIL,
    PS_GUI_F_DEVICE,
    PS_GUI_F_FROM,
    PS_GUI_F_TO,
    PS_GUI_F_SUBJECT,
    PS_GUI_F_DISPOSITION,
    PS_GUI_F_QID,
    PS_GUI_F_MESSAGE_ID,
    PS_GUI_F__COUNT
};

/* A device of the configuration the editor can open. */
typedef struct ps_gui_editable {
    char *label; /* "1 proofpoint-message" */
    char *file;  /* "devices/10-director.yml" */
    size_t index;
} ps_gui_editable;

struct _PsGuiWindow {
    AdwApplicationWindow parent;
    /* template children */
    AdwViewStack *stack;
    GtkWidget *banner, *banner_label, *no_database, *devices_scroll, *config_problems;
    GtkColumnView *devices_view, *events_view;
    GtkDrawingArea *hourly_chart;
    GtkGrid *filter_grid;
    GtkLabel *events_status, *editor_status;
    GtkTextView *detail;
    GtkDropDown *editor_device;
    GtkBox *editor_form;
    GtkEditable *trace_id;
    GtkLabel *trace_status;
    GtkListBox *trace_list;
    GtkDropDown *token_device, *token_how;
    GtkEditable *token_entry, *token_name;
    GtkLabel *token_status;
    GtkWidget *token_keygen;

    char *config_dir, *db_path;
    /* Devices page */
    ps_gui_devices *devices; /* used by one worker at a time (devices_busy) */
    gboolean devices_busy, config_busy, shown_once;
    GListStore *device_rows;
    guint timer;
    ps_gui_rates *rates; /* the rate graph's history */
    /* whether the service took the last save, from the Devices refresh; shown under
     * the editor's and the Token page's status lines */
    ps_gui_reload_watch reload;
    GtkWidget *reload_note[2];
    /* its Outputs section (ps_gui_outputs_view.c) */
    GListStore *output_rows;
    GtkColumnView *outputs_view;
    GtkWidget *outputs_box;
    /* Events page */
    GtkWidget *filters[PS_GUI_F__COUNT];
    GtkDropDown *type_filter;
    GtkCheckButton *oldest_first;
    PsGuiEventList *events;
    GtkSingleSelection *events_sel;
    GCancellable *detail_cancel;
    gboolean export_busy;
    /* Device editor */
    ps_gui_editable *editable;
    size_t neditable;
    ps_gui_form *form;
    GPtrArray *form_rows; /* AdwActionRow per form field, same order */
    gboolean check_busy, save_busy;
    ps_gui_stamp stamp;          /* the device's file as it was when the form was read */
    gboolean is_new;             /* the form is a device not yet in any file */
    ps_gui_pipelines *pipelines; /* what the pipeline picker offers */
    /* Trace */
    gboolean trace_busy;
    /* Token */
    gboolean token_busy;
};

/* ps_gui_devices_page.c */
void ps_gui_devices_page_init(PsGuiWindow *w);
void ps_gui_devices_page_refresh(PsGuiWindow *w);
/* The id of the device called `name` on the page (configured or in the database). */
gboolean ps_gui_devices_page_find(PsGuiWindow *w, const char *name, long long *id);
/* A save of the configuration just finished: watch whether the service reloads it,
 * and say so under the editor's and the Token page's status lines. */
void ps_gui_devices_page_saved(PsGuiWindow *w);

/* ps_gui_outputs_view.c: the Devices page's Outputs section, below the devices; the
 * update shows a snapshot's outputs (hidden when there are none). */
void ps_gui_outputs_view_init(PsGuiWindow *w);
void ps_gui_outputs_view_update(PsGuiWindow *w, const ps_gui_snapshot *s);

/* ps_gui_events_page.c */
void ps_gui_events_page_init(PsGuiWindow *w);
void ps_gui_events_page_search(PsGuiWindow *w);
/* Asks where, then writes the current result as `format` ("csv" or "json"). */
void ps_gui_events_page_export(PsGuiWindow *w, const char *format);
/* Writes the current result as `format` to `path` on a worker (no question asked). */
void ps_gui_events_page_export_to(PsGuiWindow *w, const char *format, const char *path);

/* ps_gui_trace_page.c */
void ps_gui_trace_page_run(PsGuiWindow *w);
/* The selected event of the Events page, traced on the Trace page. */
void ps_gui_trace_page_selected(PsGuiWindow *w);

/* ps_gui_editor_page.c */
void ps_gui_editor_page_init(PsGuiWindow *w);
void ps_gui_editor_page_check(PsGuiWindow *w);
void ps_gui_editor_page_free(PsGuiWindow *w);
/* Lists the devices again, then opens device `index` of `file` (NULL: the first). */
void ps_gui_editor_page_reload(PsGuiWindow *w, const char *file, size_t index);
/* Shows `form` (taken) on the page, its values in the rows, `status` below. */
void ps_gui_editor_page_show_form(PsGuiWindow *w, ps_gui_form *form, const char *status);
/* The Token page rewrote device `index` of `file` from `before` to `after` (was and
 * now: the device then and now, borrowed, may be NULL). When the editor holds that
 * file as it was before, it takes the new stamp, and on that device the changed
 * fields, so its next Save is no false "changed on disk". */
void ps_gui_editor_page_follow(PsGuiWindow *w, const char *file, size_t index,
                               const ps_gui_stamp *before, const ps_gui_stamp *after,
                               const ps_gui_form *was, const ps_gui_form *now);
/* Shows a validated form's problems on its rows and the counts in the status. */
void ps_gui_editor_page_verdict(PsGuiWindow *w, const ps_gui_form *checked, const ps_diag *all);

/* ps_gui_pipeline_picker.c: the button beside the `pipelines` field's entry. */
GtkWidget *ps_gui_pipeline_picker(PsGuiWindow *w, GtkWidget *entry);

/* ps_gui_token_page.c: checks the shared key (on a worker) and installs
 * win.apply-token and win.create-key. */
void ps_gui_token_page_init(PsGuiWindow *w);
void ps_gui_token_page_install(GtkWidgetClass *wc);

/* ps_gui_editor_save.c: win.save-device, win.new-device, win.duplicate-device,
 * win.delete-device, win.toggle-device. */
void ps_gui_editor_save_install(GtkWidgetClass *wc);

/* ps_gui_window.c: "2024-05-22 12:00:03" in local time, "—" for 0 (g_free). */
char *ps_gui_local_time(int64_t us);

/* ps_gui_window.c: a column of labels whose text fn(item, column) makes (g_free'd);
 * width_chars: the width it asks for (-1: its text's), so times are not cut. */
typedef char *(*ps_gui_cell_fn)(gpointer item, guint column);
void ps_gui_add_column(GtkColumnView *view, const char *title, guint column, ps_gui_cell_fn fn,
                       gboolean expand, int width_chars);

#endif
