//! The window remembers its size between runs, in the preferences file.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tauri::{LogicalSize, Manager, WebviewWindow, WindowEvent};
use tauri_plugin_store::StoreExt;

const KEY: &str = "window";

#[derive(Debug, Serialize, Deserialize)]
struct Size {
    width: f64,
    height: f64,
}

/// Restores the main window's last size and saves it whenever it changes.
pub fn remember_size(app: &tauri::App, preferences: &Path) -> tauri::Result<()> {
    let Some(window) = app.get_webview_window("main") else {
        return Ok(());
    };
    let Ok(store) = app.store(preferences) else {
        tracing::warn!("preferences file could not be opened; window size not restored");
        return Ok(());
    };
    if let Some(size) = store
        .get(KEY)
        .and_then(|v| serde_json::from_value::<Size>(v).ok())
    {
        if size.width >= 400.0 && size.height >= 300.0 {
            window.set_size(LogicalSize::new(size.width, size.height))?;
        }
    }
    let watched = window.clone();
    window.on_window_event(move |event| {
        if let WindowEvent::Resized(_) = event {
            save(&watched, &store);
        }
    });
    Ok(())
}

fn save(window: &WebviewWindow, store: &tauri_plugin_store::Store<tauri::Wry>) {
    let (Ok(size), Ok(scale)) = (window.inner_size(), window.scale_factor()) else {
        return;
    };
    let logical = size.to_logical::<f64>(scale);
    if let Ok(value) = serde_json::to_value(Size {
        width: logical.width,
        height: logical.height,
    }) {
        store.set(KEY, value);
    }
}
