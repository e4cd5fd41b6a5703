/** Entry of the operator's console: mounts the app (styles are a file: the CSP allows no inline style). */
import { render } from 'preact';
import { App } from './App.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
