// The dashboard's entry point: mounts the app into #app (index.html has no inline code).
import { render } from "preact";
import { App } from "./views/app.tsx";

render(<App />, document.getElementById("app")!);
