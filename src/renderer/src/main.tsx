import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { bindStore } from './api/bind-store';
import { connectToHost } from './api/connect';
import { ApiContext } from './api/context';
import './styles.css';

const api = connectToHost();
bindStore(api);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiContext.Provider value={api}>
      <App />
    </ApiContext.Provider>
  </StrictMode>,
);
