/* rbfviz: the browser side of the dashboard's 3D scenes, installed once per page, before any
   scene is drawn, by rbfviz.app.live_scene.SceneBehaviour (a ReactiveHTML render script: `data` is
   that element's model).  For Panel 1.9's synchronized VTK view (vtk.js):

   * the mouse wheel scrolls the page; a scene zooms only after a click in it (until the pointer
     leaves it) or with Ctrl/Shift/Alt held;
   * the vtk.js render window is kept across scene updates (Panel deleted it on every update: a new
     WebGL context, every shader compiled again) and each new scene state is synchronized into it
     in place, without a new DOM for the view or a relayout of the page;
   * a scene is drawn at most once an animation frame, not while a new state is on its way, not for
     a relayout that changed nothing, and never at zero size (1 px until laid out);
   * Panel's default (empty) axes get no axes: their tick-label mapper drew every frame twice and
     read the depth buffer back;
   * each new scene state drawn is counted in `data.drawn`, so the server can send slower parts
     (off-screen pictures, charts) after the scenes. */
if (!window.__rbfScenes) {
  window.__rbfScenes = true;
  let focused = null;
  const sceneOf = (e) => e.composedPath().find(
    (n) => n.classList && n.classList.contains && n.classList.contains('rbf-scene'));
  window.addEventListener('pointerdown', (e) => { focused = sceneOf(e) || null; }, true);
  document.addEventListener('pointerover', (e) => {
    if (focused && !e.composedPath().includes(focused)) focused = null;
  }, true);
  window.addEventListener('wheel', (e) => {
    const scene = sceneOf(e);
    if (!scene || e.ctrlKey || e.shiftKey || e.altKey || e.metaKey || scene === focused) return;
    e.stopPropagation();  /* vtk.js never sees it, so it does not call preventDefault: the page scrolls */
  }, {capture: true, passive: true});
  /* Panel's view deletes its render window on every scene update and builds a new one: a new
     WebGL context, every shader compiled again (seconds under software WebGL).  The window is
     kept instead: its delete is held back, the next render takes it (with its container) back,
     and the new scene state is synchronized into it in place. */
  const keep = (real) => {
    const kept = Object.create(real);  /* vtk.js objects are frozen: a thin layer over it */
    const interactor = real.getInteractor();
    const wrapped = Object.create(interactor);
    let endSub = null;  /* one camera-end subscription per view, not one more per update */
    Object.defineProperty(wrapped, 'onEndAnimation', {value: (cb) => {
      if (endSub) endSub.unsubscribe();
      endSub = interactor.onEndAnimation(cb);
      return endSub;
    }});
    Object.defineProperty(kept, 'getInteractor', {value: () => wrapped});
    let size = '';  /* Bokeh re-lays out the page many times an update: resize (and draw) on a change only */
    Object.defineProperty(kept, 'resize', {value: () => {
      const r = real.getContainer().getBoundingClientRect();
      if (!r.width || !r.height) return;  /* not laid out yet, or in a hidden tab: keep the last size */
      if (size === r.width + 'x' + r.height) return;
      size = r.width + 'x' + r.height;
      real.resize();
    }});
    Object.defineProperty(kept, 'delete', {value: () => {}});
    Object.defineProperty(kept, '__real', {value: real});
    return kept;
  };
  const place = (view) => {
    /* Panel makes the window before putting its container in the page, so vtk.js's first frame
       is drawn at zero size (hundreds of GL warnings per scene); give it its place first. */
    const c = view._vtk_container;
    if (c && !c.isConnected && view.shadow_el && view.shadow_el.isConnected) {
      c.style.width = view.model.width + 'px';
      c.style.height = view.model.height + 'px';
      view.shadow_el.appendChild(c);
    }
  };
  const adopt = (view) => {
    /* a view drawn before the guard was in place keeps its window from now on as well */
    if (view.__rbfKept || !view._vtk_renwin) return;
    view.__rbfRenwin = view._vtk_renwin;
    view._vtk_renwin = view.__rbfKept = keep(view._vtk_renwin);
  };
  const patch = (proto) => {
    if (proto.__rbfGuarded) return;
    proto.__rbfGuarded = true;
    const init = proto.init_vtk_renwin;
    proto.init_vtk_renwin = function () {
      if (this.__rbfKept) {
        this._vtk_renwin = this.__rbfKept;
        this._vtk_container = this.__rbfKept.getContainer();
        place(this);
        return;
      }
      if (this.__rbfRenwin) window.removeEventListener('resize', this.__rbfRenwin.resize);
      place(this);
      init.call(this);
      /* vtk.js draws on its own (synchronizing, making the orientation widget) before the page has
         laid the container out, at zero size (hundreds of GL errors): 1 x 1 px until the first resize */
      const gl = this._vtk_renwin.getOpenGLRenderWindow();
      const [w, h] = gl.getSize();
      if (!w || !h) gl.setSize(1, 1);
      this.__rbfRenwin = this._vtk_renwin;
      this._vtk_renwin = this.__rbfKept = keep(this._vtk_renwin);
    };
    /* On a new scene state Panel drops the window and re-renders the view (new DOM), and Bokeh
       then lays out the whole page again: about 0.3 s a view, twice for a network change.  The
       size has not changed, so the new state is synchronized into the kept window in place. */
    const invalidate = proto.invalidate_render;
    proto.invalidate_render = function () {
      if (this.__rbfKept && this._vtk_renwin == null) {
        this._vtk_renwin = this.__rbfKept;
        this._unsubscribe_camera_cb();
        this.plot();
        return;
      }
      invalidate.call(this);
    };
    const plot = proto.plot;
    proto.plot = function () {
      this.__rbfNew = true;
      plot.call(this);
    };
    const remove = proto.remove;
    proto.remove = function () {  /* really removed: now the window goes */
      if (this.__rbfKept) {
        this._vtk_renwin = this.__rbfKept.__real;
        this.__rbfKept = null;
      }
      remove.call(this);
    };
    const makeWidget = proto._create_orientation_widget;
    proto._create_orientation_widget = function () {  /* one per kept window, not one per update */
      if (this.__rbfWidget && this.__rbfKept) {
        this._orientationWidget = this.__rbfWidget;
        return;
      }
      makeWidget.call(this);
      this.__rbfWidget = this._orientationWidget;
    };
    /* Every Bokeh relayout draws the scene again (8 times for one network change, each a full
       frame that software WebGL then rasterizes and the compositor reads back): draw at most once
       an animation frame, and not the old scene while the new one is on its way. */
    const render = proto._vtk_render;
    proto._vtk_render = function () {
      adopt(this);
      if (this.__rbfFrame) return;
      this.__rbfFrame = requestAnimationFrame(() => {
        this.__rbfFrame = 0;
        if (!this._renderable) return;  /* not while a new scene is being synchronized */
        const [w, h] = this._vtk_renwin.getOpenGLRenderWindow().getSize();
        if (!w || !h) return;  /* no size yet: its first resize draws it */
        render.call(this);
        if (this.__rbfNew) {  /* a new scene state is on the screen: tell the server */
          this.__rbfNew = false;
          if (window.__rbfDrawn) window.__rbfDrawn();
        }
      });
    };
    /* After each relayout Panel resizes (which draws) and draws again; the kept window's resize
       draws on a size change only, so a relayout that changed nothing here draws nothing. */
    const layoutBase = Object.getPrototypeOf(Object.getPrototypeOf(proto)).after_layout;
    if (layoutBase) {
      proto.after_layout = function () {
        adopt(this);
        layoutBase.call(this);
        if (this._renderable) this._vtk_renwin.resize();
        if (!this._rendered) {
          this._add_colorbars();
          this._add_annotations();
          this._rendered = true;
          this._vtk_render();
        }
      };
    }
    /* Panel sends its default axes (no tickers) as an axes model, for which the view adds a
       tick-label mapper that reads the depth buffer: every frame is then drawn twice and read
       back with readPixels (most of an update's time under software WebGL).  No tickers: no axes. */
    const setAxes = proto._set_axes;
    proto._set_axes = function () {
      if (wantsAxes(this)) setAxes.call(this);
    };
  };
  const wantsAxes = (v) => { const a = v.model.axes; return a && (a.xticker || a.yticker || a.zticker); };
  const isScene = (v) => v.model && 'arrays_processed' in v.model && 'init_vtk_renwin' in v;
  let patched = false;
  try {
    const model = window.Bokeh.Models.get('panel.models.vtk.VTKSynchronizedPlot');
    if (model && model.prototype.default_view) {
      patch(model.prototype.default_view.prototype);
      patched = true;
    }
  } catch (e) { /* the registry differs between Bokeh versions: found from a live view below */ }
  const timer = patched ? null : setInterval(() => {
    if (!window.Bokeh || !window.Bokeh.index) return;
    for (const view of window.Bokeh.index.query(isScene)) {
      patch(Object.getPrototypeOf(view));
      adopt(view);
      if (view._axes && !wantsAxes(view)) {  /* drawn before the guard was in place */
        view._delete_axes();
        view._vtk_render();
      }
      clearInterval(timer);
    }
  }, 100);
}

/* The browser counts the new scene states it has drawn (at most one count an animation frame), two
   frames after the draw: by then the drawn frame has been handed to the compositor. */
let counting = false;
window.__rbfDrawn = () => {
  if (counting) return;
  counting = true;
  requestAnimationFrame(() => requestAnimationFrame(() => { counting = false; data.drawn = data.drawn + 1; }));
};
