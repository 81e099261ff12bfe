import { render } from 'preact';

render(<p>Tether console</p>, document.getElementById('app')!);
